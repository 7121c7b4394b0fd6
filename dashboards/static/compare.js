"use strict";
// Compare the fronts of several jobs (?jobs=a,b,c) on one chart; tick jobs to add or remove them.
(() => {
  const { api, el, number, badge } = Scaler;
  const chosen = new Set((new URLSearchParams(location.search).get("jobs") || "").split(",").filter(Boolean));
  const fronts = new Map();  // job id → { etag, pareto }
  let jobs = [];
  const $ = (id) => document.getElementById(id);

  function render() {
    const traces = [];
    const logX = $("log-x").checked;
    let index = 0;
    let spec = null;
    for (const job of jobs.filter((j) => chosen.has(j.id))) {
      const entry = fronts.get(job.id);
      if (!entry) continue;
      spec = spec || job.spec;
      const keys = Figures.objectiveKeys(job.spec);
      const colour = Figures.PALETTE[index++ % Figures.PALETTE.length];
      const points = entry.pareto.points;
      const front = points.filter((p) => p.on_front).sort((a, b) => a[keys.latency] - b[keys.latency]);
      if ($("show-all").checked) {
        traces.push({ name: `${job.name} · trials`, legendgroup: job.id, type: points.length > 800 ? "scattergl" : "scatter", mode: "markers",
          x: points.map((p) => p[keys.latency]), y: points.map((p) => p[keys.accuracy]), marker: { color: colour, size: 6, opacity: 0.3 },
          text: points.map((p) => p.trial_id), hoverinfo: "text+x+y" });
      }
      traces.push({ name: `${job.name} · front`, legendgroup: job.id, type: "scatter", mode: "lines+markers",
        x: front.map((p) => p[keys.latency]), y: front.map((p) => p[keys.accuracy]), line: { color: colour, shape: "hv", width: 2 },
        marker: { color: colour, size: 10 }, text: front.map((p) => p.trial_id), hoverinfo: "text+x+y" });
    }
    Plotly.react("compare-plot", traces, Figures.paretoLayout(spec, logX), Figures.CONFIG);
    $("compare-jobs").querySelector("tbody").replaceChildren(...jobs.map((job) => {
      const box = el("input", { type: "checkbox", "data-job": job.id, checked: chosen.has(job.id) });
      box.addEventListener("change", () => {
        if (box.checked) chosen.add(job.id); else chosen.delete(job.id);
        history.replaceState(null, "", `?jobs=${[...chosen].join(",")}`);
        refresh().then(render).catch(Scaler.showError);
      });
      return el("tr", {}, [el("td", {}, [box]), el("td", {}, [el("a", { href: `/dashboard/jobs/${job.id}` }, [job.name])]), el("td", {}, [badge(job.status)]),
        el("td", { class: "num" }, [`${job.trials_finished}/${job.trials_total}`]), el("td", { class: "num" }, [String(job.front.length)]),
        el("td", { class: "num" }, [number(job.best_ap)]), el("td", { class: "num" }, [number(job.hypervolume, 4)])]);
    }));
  }

  async function refresh() {
    jobs = (await api("/v1/jobs?limit=200")).data.items;
    let changed = false;
    for (const jobId of chosen) {
      const entry = fronts.get(jobId);
      const answer = await api(`/v1/jobs/${jobId}/pareto`, { etag: entry?.etag });
      if (answer.notModified) continue;
      fronts.set(jobId, { etag: answer.etag, pareto: answer.data });
      changed = true;
    }
    return changed;
  }

  $("log-x").addEventListener("change", render);
  $("show-all").addEventListener("change", render);
  Scaler.start(() => Scaler.poll(async () => { await refresh(); render(); }, 3000));
})();
