"""Training: hyperparameters, the YOLO loss, augmentation and the training loop."""
