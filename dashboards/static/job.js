"use strict";
// The job page: live Pareto scatter, hypervolume, parallel coordinates, trial table and drawer.
// Refreshed as the job's events come (events.js: its live stream); while no stream can be had, by
// polling /pareto every 2 s with If-None-Match (an unchanged job costs a bodiless 304).
(() => {
  const { api, el, number, millions, badge, deviceUnit, measured, progressBar } = Scaler;
  const jobId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  const PAGE = 50;
  const state = {
    job: null, info: null, pareto: null, paretoEtag: null,
    table: { sort: "-ap", status: "", offset: 0, total: 0, etag: null, key: null },
    drawerTrial: null,
    boxes: new Map(),  // the dataset's box sizes by input size (GET /boxes): fetched once each
  };
  const $ = (id) => document.getElementById(id);

  function renderSummary() {
    const job = state.job;
    $("job-name").textContent = job.name;
    $("job-status").replaceChildren(badge(job.status));
    $("job-id").textContent = job.id;
    document.title = `Scaler · ${job.name}`;
    const stat = (label, ...value) => el("div", { class: "stat" }, [el("div", { class: "label" }, [label]), el("div", { class: "value" }, value)]);
    const mlflow = mlflowUrl(job.mlflow_run_id);
    $("summary").replaceChildren(
      stat("progress", progressBar(job.progress), `${job.trials_finished}/${job.trials_total} trials`),
      stat("trial-epochs", `${job.epochs_used} / ${job.budget_epochs}`),
      stat("best AP", number(job.best_ap)),
      stat("front", String(job.front.length)),
      stat("hypervolume", number(job.hypervolume, 4)),
      stat(deviceUnit(job.spec), number(job.device_hours, 3)),
      stat("searcher", `${job.spec.searcher} + ${job.spec.scheduler}`),
      ...(predictorUsed(job.latency_predictor) ? [stat("latency model", predictorText(job.latency_predictor))] : []),
      stat("MLflow", mlflow ? el("a", { href: mlflow, target: "_blank", rel: "noopener" }, ["parent run"]) : (job.mlflow_run_id || "–")),
      ...(job.error ? [stat("error", el("span", { class: "muted" }, [job.error]))] : []),
    );
  }

  // the device's latency model in this job: points it screened out before they became trials,
  // candidates it refused unbuilt, its accuracy so far
  function predictorUsed(predictor) {
    return predictor && (predictor.screened > 0 || predictor.rejected > 0 || predictor.compared > 0);
  }

  function predictorText(predictor) {
    const accuracy = predictor.compared
      ? `${number(predictor.within * 100, 0)} % of ${predictor.compared} within ±10 %` : "nothing measured yet";
    const screened = predictor.screened ? `${predictor.screened} screened out untrained · ` : "";
    return `${screened}${predictor.rejected} rejected unbuilt · ${accuracy}`;
  }

  function mlflowUrl(runId) {
    const base = state.info?.mlflow_ui_url;
    if (!base || !runId || !state.job?.mlflow_experiment_id) return null;
    return `${base.replace(/\/$/, "")}/#/experiments/${state.job.mlflow_experiment_id}/runs/${runId}`;
  }

  function colourOptions() {
    const select = $("colour-by");
    const keys = ["on_front", "image_size", "params", "gflops",
      ...[...new Set(state.pareto.points.flatMap((p) => Object.keys(p.point || {})))].sort()];
    const current = select.value || "on_front";
    if (select.options.length !== keys.length) {
      select.replaceChildren(...keys.map((key) => el("option", { value: key }, [key === "on_front" ? "front / dominated" : key])));
    }
    select.value = keys.includes(current) ? current : "on_front";
  }

  function renderPlots() {
    colourOptions();
    const spec = state.job.spec;
    const traces = Figures.paretoTraces(state.pareto, spec, $("colour-by").value);
    Plotly.react("pareto-plot", traces, Figures.paretoLayout(spec, $("log-x").checked), Figures.CONFIG);
    $("pareto-caption").textContent = `${state.pareto.points.length} measured · ${state.pareto.front.length} on the front · ${state.pareto.infeasible.length} infeasible`;
    Figures.hypervolume("hv-plot", state.pareto.hypervolume_history);
    Figures.parallelCoordinates("parcoords-plot", state.pareto, spec);
  }

  // a latency whose timing rounds were more than 1.25x apart was measured on a busy machine
  const BUSY = "timed while the machine was busy: its rounds disagree";
  const unstable = (trial) => trial.latency_spread != null && trial.latency_spread > 1.25;

  function trialRow(trial) {
    const tr = el("tr", { "data-trial": trial.trial_id }, [
      // a result the job did not train (imported, warm_start) says so beside its id
      el("td", {}, [trial.trial_id, ...(trial.origin !== "searched" ? [" ", el("span", { class: "muted" }, [trial.origin])] : [])]),
      el("td", {}, [badge(trial.status)]),
      el("td", { class: "num" }, [number(trial.ap)]),
      el("td", { class: "num" }, [number(trial.ap50)]),
      el("td", { class: "num", title: unstable(trial) ? BUSY : "" }, [number(trial.latency_ms, 2) + (unstable(trial) ? "*" : "")]),
      el("td", { class: "num" }, [millions(trial.params)]),
      el("td", { class: "num" }, [number(trial.gflops, 2)]),
      el("td", { class: "num" }, [trial.image_size ?? "–"]),
      el("td", { class: "num" }, [String(trial.epochs)]),
      el("td", { class: "num" }, [number(trial.device_hours, 4)]),
      el("td", { class: "error" }, [trial.error || ""]),
    ]);
    tr.addEventListener("click", () => openDrawer(trial.trial_id));
    return tr;
  }

  async function refreshTable(force = false) {
    const table = state.table;
    const query = new URLSearchParams({ sort: table.sort, limit: String(PAGE), offset: String(table.offset) });
    if (table.status) query.set("status", table.status);
    const key = query.toString();
    const answer = await api(`/v1/jobs/${jobId}/trials?${key}`, { etag: !force && table.key === key ? table.etag : null });
    if (answer.notModified) return;
    table.etag = answer.etag; table.key = key; table.total = answer.data.total;
    $("trials").querySelector("tbody").replaceChildren(...answer.data.items.map(trialRow));
    const last = Math.min(table.offset + PAGE, table.total);
    $("page-caption").textContent = table.total ? `${table.offset + 1}–${last} of ${table.total}` : "no trials";
    $("previous-page").disabled = table.offset === 0;
    $("next-page").disabled = last >= table.total;
    for (const th of document.querySelectorAll("th[data-sort]")) {
      const active = table.sort.replace(/^-/, "") === th.dataset.sort;
      th.classList.toggle("active", active);
      th.classList.toggle("asc", active && !table.sort.startsWith("-"));
    }
  }

  async function refresh() {
    const answer = await api(`/v1/jobs/${jobId}/pareto`, { etag: state.paretoEtag });
    if (answer.notModified) return;
    state.pareto = answer.data;
    state.paretoEtag = answer.etag;
    state.job = (await api(`/v1/jobs/${jobId}`)).data;
    renderSummary();
    renderPlots();
    await refreshTable();
    if (state.drawerTrial) await openDrawer(state.drawerTrial, false);
  }

  // the whole latency measurement: median and p95, the rounds' medians, and where and how it ran
  function measurement(stats) {
    const rounds = (stats.round_p50_ms || []).map((value) => number(value, 2)).join(", ");
    return `median ${number(stats.p50_ms, 2)} ms · p95 ${number(stats.p95_ms, 2)} ms · rounds [${rounds}] ms`
      + ` (spread ×${number(stats.spread, 2)}) · ${stats.device_name} (${stats.device}) · ${stats.runtime} ${stats.precision}`
      + ` · batch ${stats.batch} · ${stats.threads} threads`
      + (stats.target ? ` · on ${stats.target} (node ${String(stats.node_id || "").slice(0, 12)})` : "")
      // taken from the measurement cache (timed before for the same network on this device), or
      // timed again at the search's end because its rounds disagreed
      + (stats.cached ? " · cached (timed before on this device)" : "")
      + (stats.remeasured ? ` · re-measured ×${stats.remeasured} at the search's end` : "");
  }

  async function openDrawer(trialId, reveal = true) {
    const { data: trial } = await api(`/v1/jobs/${jobId}/trials/${encodeURIComponent(trialId)}`);
    state.drawerTrial = trialId;
    $("drawer-title").textContent = `Trial ${trial.trial_id}`;
    $("drawer-status").replaceChildren(badge(trial.status));
    $("export-button").disabled = !measured(trial.status);
    const link = mlflowUrl(trial.mlflow_run_id);
    $("mlflow-link").replaceChildren(link ? el("a", { href: link, target: "_blank", rel: "noopener", id: "mlflow-anchor" }, ["MLflow run"])
      : el("span", { class: "muted" }, [trial.mlflow_run_id ? `MLflow run ${trial.mlflow_run_id} (set SCALER_MLFLOW_UI_URL to link)` : "no MLflow run"]));
    const rows = [["AP / AP50 / fitness", `${number(trial.ap)} / ${number(trial.ap50)} / ${number(trial.fitness)}`], ["latency", `${number(trial.latency_ms, 2)} ms (with NMS ${number(trial.latency_nms_ms, 2)})`
      + (unstable(trial) ? ` · ${BUSY} (×${number(trial.latency_spread, 2)})` : "")],
      ...(trial.latency_stats ? [["latency measured", measurement(trial.latency_stats)]] : []),
      // the device's latency model's prediction, made before the network was built
      ...(trial.latency_predicted_ms != null ? [["latency predicted", `${number(trial.latency_predicted_ms, 2)} ms`
        + (trial.latency_ms ? ` (${number((trial.latency_predicted_ms / trial.latency_ms - 1) * 100, 1)} % off the measurement)` : "")]] : []),
      // searched (trained by this job), imported (measured elsewhere) or warm_start (an earlier job's)
      ["origin", trial.origin + (trial.source ? ` · ${trial.source}` : "")],
      ["params / GFLOPs", `${millions(trial.params)} / ${number(trial.gflops, 2)}`], ["input size", trial.image_size ?? "–"], ["epochs", trial.epochs],
      ...(trial.inherited_from ? [["inherited from", `trial ${trial.inherited_from}`]] : []),
      // where its weights started: the job's initial weights as given, "supernet" or "trial:<parent>"
      ...(trial.initialised_from ? [["initialised from", trial.initialised_from]] : []),
      ...(trial.inherited_share != null ? [["inherited share", `${number(trial.inherited_share * 100, 1)} % of its parameter values`]] : []),
      ["wall time", `${number(trial.seconds, 1)} s (${number(trial.device_hours, 4)} device-hours)`], ["anchors", trial.anchors || "preset"],
      // the anchor fit's best possible recall: the share of the dataset's boxes an anchor can match
      ...(trial.anchor_recall_before != null ? [["anchor recall", `${percent(trial.anchor_recall_before)} of boxes with the network's own anchors`
        + ` → ${percent(trial.anchor_recall_after)} with ${trial.anchors ? "the fitted ones" : "them (the fit did not beat them)"}`]] : []),
      ...(trial.error ? [["reason", trial.error]] : []),
      ...Object.entries(trial.point).sort().map(([key, value]) => [key, typeof value === "number" ? +value.toPrecision(5) : JSON.stringify(value)])];
    $("drawer-details").replaceChildren(...rows.flatMap(([key, value]) => [el("dt", {}, [key]), el("dd", {}, [String(value)])]));
    if (reveal) $("drawer").hidden = false;  // before drawing: the plot takes the drawer's width
    const history = trial.history || [];
    const epochs = history.map((row) => row.epoch);
    Plotly.react("curve-plot", [
      { name: "AP", x: epochs, y: history.map((r) => r.ap), mode: "lines+markers" },
      { name: "AP50", x: epochs, y: history.map((r) => r.ap50), mode: "lines+markers" },
      { name: "loss", x: epochs, y: history.map((r) => r.loss_total), mode: "lines", yaxis: "y2", line: { dash: "dot" } },
      ...(history.some((r) => r.val_loss_total != null)
        ? [{ name: "val loss", x: epochs, y: history.map((r) => r.val_loss_total), mode: "lines", yaxis: "y2", line: { dash: "dash" } }] : []),
    ], { margin: { l: 48, r: 48, t: 8, b: 40 }, legend: { orientation: "h", y: -0.25 }, xaxis: { title: { text: "epoch" } },
      yaxis: { title: { text: "AP" }, rangemode: "tozero" }, yaxis2: { title: { text: "loss" }, overlaying: "y", side: "right" } }, Figures.CONFIG);
    await drawAnchors(trial);
  }

  const percent = (share) => `${number(share * 100, 1)} %`;

  // the dataset's boxes (width × height in pixels at the trial's input size, a sample of at most
  // 2000) and the trial's fitted anchors over them; hidden for a trial without an input size
  async function drawAnchors(trial) {
    const plot = $("anchor-plot");
    if (trial.image_size == null) { plot.hidden = true; return; }
    if (!state.boxes.has(trial.image_size)) {
      const { data } = await api(`/v1/jobs/${jobId}/boxes?image_size=${trial.image_size}&limit=2000`);
      state.boxes.set(trial.image_size, data);
    }
    const boxes = state.boxes.get(trial.image_size);
    const pairs = (trial.anchors ? JSON.parse(trial.anchors) : []).flatMap((level, index) =>
      Array.from({ length: level.length / 2 }, (_, k) => ({ w: level[2 * k], h: level[2 * k + 1], level: index })));
    plot.hidden = false;
    const shown = boxes.total > boxes.widths.length ? `${boxes.widths.length} of ${boxes.total}` : `${boxes.total}`;
    Plotly.react("anchor-plot", [
      { name: `boxes (${shown})`, x: boxes.widths, y: boxes.heights, mode: "markers", type: "scatter",
        marker: { size: 4, color: "#adb5bd", opacity: 0.6 }, hoverinfo: "x+y" },
      ...(pairs.length ? [{ name: "fitted anchors", x: pairs.map((a) => a.w), y: pairs.map((a) => a.h), mode: "markers", type: "scatter",
        text: pairs.map((a) => `level ${a.level + 1}`), marker: { size: 11, symbol: "x", color: "#e8590c" } }] : []),
    ], { margin: { l: 56, r: 16, t: 28, b: 40 }, legend: { orientation: "h", y: -0.25 },
      title: { text: pairs.length ? `anchors fitted at ${trial.image_size} px` : `the network's own anchors (none fitted) · ${trial.image_size} px`, font: { size: 13 } },
      xaxis: { title: { text: "box width (px)" }, type: "log" }, yaxis: { title: { text: "box height (px)" }, type: "log" } }, Figures.CONFIG);
  }

  // one refresh at a time; events that come during one ask for one more after it
  const refreshing = { now: false, again: false };
  async function refreshSoon() {
    if (refreshing.now) { refreshing.again = true; return; }
    refreshing.now = true;
    try { await refresh(); Scaler.showError(null); }
    catch (error) { if (!(error instanceof Scaler.AuthError)) Scaler.showError(error); }
    refreshing.now = false;
    if (refreshing.again) { refreshing.again = false; refreshSoon(); }
  }

  // #live says how the page hears of changes ("live": the event stream; "polling": it failed), and
  // counts the events it had (data-events, data-last-event-id)
  function followLive() {
    const live = $("live");
    let stopPolling = null;
    const onEvent = (event) => {
      live.dataset.events = String(Number(live.dataset.events || 0) + 1);
      live.dataset.lastEventId = String(event.id);
      refreshSoon();
    };
    const onState = (mode) => {
      live.dataset.mode = mode;
      live.textContent = mode === "live" ? "● live" : "polling";
      if (mode === "live" && stopPolling) { stopPolling(); stopPolling = null; refreshSoon(); }
      if (mode === "down" && !stopPolling) stopPolling = Scaler.poll(refresh, 2000);
    };
    JobEvents.follow(jobId, onEvent, onState);
  }

  function wire() {
    $("log-x").addEventListener("change", renderPlots);
    $("colour-by").addEventListener("change", renderPlots);
    $("trial-status").addEventListener("change", (event) => { state.table.status = event.target.value; state.table.offset = 0; refreshTable(true).catch(Scaler.showError); });
    $("previous-page").addEventListener("click", () => { state.table.offset = Math.max(0, state.table.offset - PAGE); refreshTable(true).catch(Scaler.showError); });
    $("next-page").addEventListener("click", () => { state.table.offset += PAGE; refreshTable(true).catch(Scaler.showError); });
    for (const th of document.querySelectorAll("th[data-sort]")) {
      th.addEventListener("click", () => {
        const key = th.dataset.sort;
        state.table.sort = state.table.sort === `-${key}` ? key : `-${key}`;
        state.table.offset = 0;
        refreshTable(true).catch(Scaler.showError);
      });
    }
    $("drawer-close").addEventListener("click", () => { $("drawer").hidden = true; state.drawerTrial = null; });
    $("export-button").addEventListener("click", () => {
      Scaler.download(`/v1/jobs/${jobId}/trials/${encodeURIComponent(state.drawerTrial)}/export`, `${jobId}-${state.drawerTrial}.zip`).catch(Scaler.showError);
    });
    $("pareto-plot").on("plotly_click", (event) => {
      const trialId = event.points?.[0]?.customdata;
      if (trialId) openDrawer(trialId).catch(Scaler.showError);
    });
  }

  Scaler.start(async () => {
    state.info = (await api("/v1/info")).data;
    Plotly.newPlot("pareto-plot", [], {}, Figures.CONFIG);
    wire();
    refreshSoon();
    followLive();
  });
})();
