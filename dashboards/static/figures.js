"use strict";
// Plotly figures shared by the job and compare pages. Up to a few hundred points are drawn as
// SVG; past that the scatter switches to WebGL so that thousands of trials stay fluid.
const Figures = (() => {
  const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#f08c00", "#5f3dc4", "#495057", "#d6336c"];
  const WEBGL_FROM = 800;
  const CONFIG = { displaylogo: false, responsive: true };

  const objectiveKeys = (spec) => ({
    accuracy: spec?.objectives?.accuracy === "ap50" ? "ap50" : "ap",
    latency: spec?.objectives?.latency?.include_nms ? "latency_nms_ms" : "latency_ms",
  });

  function hoverText(point, keys) {
    const lines = [`<b>${point.trial_id}</b>`, `${keys.accuracy.toUpperCase()} ${Scaler.number(point[keys.accuracy])}`,
      `latency ${Scaler.number(point[keys.latency], 2)} ms`];
    if (point.params) lines.push(`params ${Scaler.millions(point.params)}, ${Scaler.number(point.gflops, 2)} GFLOPs`);
    for (const [key, value] of Object.entries(point.point || {}).sort()) {
      lines.push(`${key} = ${typeof value === "number" ? +value.toPrecision(4) : JSON.stringify(value)}`);
    }
    return lines.join("<br>");
  }

  // Values of a colour key for each point: numbers stay numbers, anything else becomes categories.
  function colourValues(points, key) {
    const raw = points.map((point) => (key === "on_front" ? (point.on_front ? "front" : "dominated")
      : key in point ? point[key] : point.point?.[key]));
    if (raw.every((value) => typeof value === "number")) return { numeric: true, values: raw };
    const labels = raw.map((value) => (typeof value === "string" ? value : JSON.stringify(value ?? null)));
    const categories = [...new Set(labels)].sort();
    return { numeric: false, values: labels, categories };
  }

  function paretoTraces(pareto, spec, colourBy) {
    const keys = objectiveKeys(spec);
    const points = pareto.points.filter((point) => point[keys.latency] !== null && point[keys.latency] !== undefined);
    const type = points.length >= WEBGL_FROM ? "scattergl" : "scatter";
    const colours = colourValues(points, colourBy);
    const traces = [];
    if (colours.numeric) {
      traces.push({
        name: "trials", type, mode: "markers", x: points.map((p) => p[keys.latency]), y: points.map((p) => p[keys.accuracy]),
        customdata: points.map((p) => p.trial_id), text: points.map((p) => hoverText(p, keys)), hoverinfo: "text",
        marker: { size: 8, color: colours.values, colorscale: "Viridis", showscale: true, colorbar: { title: { text: colourBy }, thickness: 12 }, opacity: 0.85 },
      });
    } else {
      colours.categories.forEach((category, index) => {
        const members = points.filter((_, i) => colours.values[i] === category);
        traces.push({
          name: `trials · ${category}`, showlegend: true, type, mode: "markers",
          x: members.map((p) => p[keys.latency]), y: members.map((p) => p[keys.accuracy]),
          customdata: members.map((p) => p.trial_id), text: members.map((p) => hoverText(p, keys)), hoverinfo: "text",
          marker: { size: 8, color: PALETTE[index % PALETTE.length], opacity: 0.85 },
        });
      });
    }
    const front = points.filter((p) => p.on_front).sort((a, b) => a[keys.latency] - b[keys.latency]);
    traces.push({
      name: "front", type: "scatter", mode: "lines+markers", x: front.map((p) => p[keys.latency]), y: front.map((p) => p[keys.accuracy]),
      customdata: front.map((p) => p.trial_id), text: front.map((p) => hoverText(p, keys)), hoverinfo: "text",
      line: { color: "#c92a2a", width: 2, shape: "hv" }, marker: { size: 13, symbol: "star", color: "#c92a2a", line: { color: "#fff", width: 1 } },
    });
    const infeasible = pareto.infeasible.filter((trial) => trial.latency_ms !== null);
    traces.push({
      name: "infeasible", type: "scatter", mode: "markers", x: infeasible.map((t) => t[keys.latency] ?? t.latency_ms), y: infeasible.map(() => 0),
      customdata: infeasible.map((t) => t.trial_id), hoverinfo: "text",
      text: infeasible.map((t) => `<b>${t.trial_id}</b> infeasible (not trained)<br>${t.error || ""}<br>${Scaler.millions(t.params)} params`),
      marker: { size: 10, symbol: "x-thin-open", color: "#868e96", line: { width: 2, color: "#868e96" } },
    });
    return traces;
  }

  function paretoLayout(spec, logX) {
    const keys = objectiveKeys(spec);
    return {
      margin: { l: 56, r: 16, t: 8, b: 48 }, hovermode: "closest", legend: { orientation: "h", y: -0.18 },
      xaxis: { title: { text: `${keys.latency === "latency_nms_ms" ? "latency with NMS" : "latency"} (ms, ${spec?.objectives?.latency?.device || "cpu"}, batch ${spec?.objectives?.latency?.batch || 1})` }, type: logX ? "log" : "linear" },
      yaxis: { title: { text: keys.accuracy.toUpperCase() }, rangemode: "tozero" },
      uirevision: "keep",
    };
  }

  function hypervolume(div, history) {
    Plotly.react(div, [{ name: "hypervolume", type: "scatter", mode: "lines+markers", x: history.map((_, i) => i + 1), y: history, line: { color: "#3b5bdb" } }],
      { margin: { l: 56, r: 16, t: 8, b: 40 }, xaxis: { title: { text: "trials finished" } }, yaxis: { title: { text: "hypervolume" }, rangemode: "tozero" }, uirevision: "keep" }, CONFIG);
  }

  function parallelCoordinates(div, pareto, spec) {
    const keys = objectiveKeys(spec);
    const points = pareto.points;
    const names = [...new Set(points.flatMap((p) => Object.keys(p.point || {})))].sort();
    const dimensions = [];
    for (const name of names) {
      const raw = points.map((p) => p.point?.[name]);
      if (new Set(raw.map((v) => JSON.stringify(v))).size < 2) continue;  // constant: nothing to see
      if (raw.every((v) => typeof v === "number")) dimensions.push({ label: name.replace(/^(arch|hyp)\//, ""), values: raw });
      else {
        const labels = raw.map((v) => (typeof v === "string" ? v : JSON.stringify(v ?? null)));
        const categories = [...new Set(labels)].sort();
        dimensions.push({ label: name.replace(/^(arch|hyp)\//, ""), values: labels.map((v) => categories.indexOf(v)),
          tickvals: categories.map((_, i) => i), ticktext: categories });
      }
    }
    dimensions.push({ label: "latency ms", values: points.map((p) => p[keys.latency]) });
    dimensions.push({ label: keys.accuracy.toUpperCase(), values: points.map((p) => p[keys.accuracy]) });
    if (!points.length) {
      Plotly.react(div, [], { margin: { t: 8 }, annotations: [{ text: "no measured trials yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }], xaxis: { visible: false }, yaxis: { visible: false } }, CONFIG);
      return;
    }
    Plotly.react(div, [{ type: "parcoords", dimensions, line: { color: points.map((p) => p[keys.accuracy]), colorscale: "Viridis", showscale: true } }],
      { margin: { l: 48, r: 48, t: 40, b: 16 } }, CONFIG);
  }

  return { CONFIG, PALETTE, objectiveKeys, paretoTraces, paretoLayout, hypervolume, parallelCoordinates, colourValues };
})();
