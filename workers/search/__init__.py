"""The search on Ray Tune: searchers and schedulers by name, the search trainable (constraint
pre-filter, anchor fitting, training), MLflow logging, run_search and exports."""
