"use strict";
// The job page's augmentation strengths: every strength the job searched (a `hyp/<key>` of its
// trials' points whose key is one of the augmentation keys the service serves at
// /dashboard/augmentation.json) across the trials in the order they finished — one trace and one
// y-axis per strength, zero always on the axis, so a strength that never leaves 0 shows as a flat
// line at the bottom and its title says so. The card stays hidden while the job searched none.
(() => {
  const { api, el } = Scaler;
  const jobId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  const PAGE = 1000;  // the most trials /trials answers at once
  const COLUMNS = 4;
  const ROW_HEIGHT = 170;
  const POLL_MS = 4000;
  const STUCK_COLOUR = "#c92a2a";
  const state = { keys: null, etag: null, card: null };

  function card() {
    if (state.card) return state.card;
    const trials = document.getElementById("trials")?.closest(".card");
    state.card = el("div", { class: "card", id: "strengths-card", style: "display:none" }, [
      el("h2", {}, ["Augmentation strengths across trials"]),
      el("div", { class: "controls" }, [el("span", { class: "muted", id: "strengths-caption" }, [])]),
      el("div", { id: "strengths-plot" }, []),
    ]);
    if (trials) trials.before(state.card);
    else document.querySelector("main").append(state.card);
    return state.card;
  }

  // every trial in the order the trials finished (the list's default order), or null when the
  // first page is unchanged since the last call
  async function trialsInOrder() {
    const items = [];
    for (let offset = 0; ; offset += PAGE) {
      const query = `/v1/jobs/${jobId}/trials?sort=finished_at&limit=${PAGE}&offset=${offset}`;
      const answer = await api(query, { etag: offset === 0 ? state.etag : null });
      if (answer.notModified) return null;
      if (offset === 0) state.etag = answer.etag;
      items.push(...answer.data.items);
      if (items.length >= answer.data.total || !answer.data.items.length) return items;
    }
  }

  const searched = (trials) =>
    state.keys.filter((key) => trials.some((trial) => `hyp/${key}` in (trial.point || {})));

  function traces(trials, keys) {
    return keys.map((key, index) => {
      const rows = trials.map((trial, order) => [order + 1, trial.point?.[`hyp/${key}`], trial])
        .filter(([, value]) => typeof value === "number");
      const axis = index === 0 ? "" : String(index + 1);
      return {
        name: key, type: "scatter", mode: "lines+markers", xaxis: `x${axis}`, yaxis: `y${axis}`,
        x: rows.map(([order]) => order), y: rows.map(([, value]) => value),
        customdata: rows.map(([, , trial]) => `${trial.trial_id} (${trial.status})`),
        hovertemplate: `trial %{x}: %{customdata}<br>${key} = %{y}<extra></extra>`,
        marker: { size: 5 }, showlegend: false,
      };
    });
  }

  function layout(figureTraces) {
    const rows = Math.ceil(figureTraces.length / COLUMNS);
    const result = {
      grid: { rows, columns: Math.min(COLUMNS, figureTraces.length), pattern: "independent", ygap: 0.45 },
      margin: { l: 48, r: 16, t: 24, b: 32 }, height: rows * ROW_HEIGHT + 40, annotations: [],
    };
    figureTraces.forEach((trace, index) => {
      const axis = index === 0 ? "" : String(index + 1);
      const stuck = trace.y.length > 1 && trace.y.every((value) => value === 0);
      result[`xaxis${axis}`] = { title: { text: "" }, dtick: trace.x.length > 20 ? null : 1 };
      result[`yaxis${axis}`] = { rangemode: "tozero", zeroline: true };
      result.annotations.push({
        text: stuck ? `<b>${trace.name}</b> · stuck at 0` : `<b>${trace.name}</b>`,
        font: { color: stuck ? STUCK_COLOUR : "#212529", size: 12 },
        xref: `x${axis} domain`, yref: `y${axis} domain`, x: 0, y: 1.02,
        xanchor: "left", yanchor: "bottom", showarrow: false,
      });
    });
    return result;
  }

  async function refresh() {
    if (!state.keys) {
      const response = await fetch("/dashboard/augmentation.json", { cache: "no-store" });
      if (!response.ok) throw new Error(`/dashboard/augmentation.json: ${response.status}`);
      state.keys = (await response.json()).keys;
    }
    const trials = await trialsInOrder();
    if (trials === null) return;
    const keys = searched(trials);
    const box = card();
    if (!keys.length) { box.style.display = "none"; return; }
    box.style.display = "";  // before drawing: the plot takes the card's width
    const figureTraces = traces(trials, keys);
    const stuck = figureTraces.filter((trace) => trace.y.length > 1 && trace.y.every((value) => value === 0));
    document.getElementById("strengths-caption").textContent =
      `${keys.length} strengths searched · ${trials.length} trials, in the order they finished`
      + (stuck.length ? ` · never off 0: ${stuck.map((trace) => trace.name).join(", ")}` : "");
    Plotly.react("strengths-plot", figureTraces, layout(figureTraces), Figures.CONFIG);
  }

  // its own loop, not Scaler.poll: a tick that succeeds here must not clear the job page's error banner
  async function loop() {
    try { await refresh(); } catch (error) { if (!(error instanceof Scaler.AuthError)) Scaler.showError(error); }
    setTimeout(loop, POLL_MS);
  }

  Scaler.start(loop);
})();
