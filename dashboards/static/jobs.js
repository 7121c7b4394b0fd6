"use strict";
// The jobs page: every job of the caller's team, refreshed every few seconds.
(() => {
  const { api, el, number, when, badge, deviceUnit, progressBar } = Scaler;
  const selected = new Set();
  const body = document.querySelector("#jobs tbody");
  const filter = document.getElementById("status-filter");
  const compare = document.getElementById("compare-button");

  function row(job) {
    const box = el("input", { type: "checkbox", "data-job": job.id, checked: selected.has(job.id) });
    box.addEventListener("click", (event) => event.stopPropagation());
    box.addEventListener("change", () => {
      if (box.checked) selected.add(job.id); else selected.delete(job.id);
      compare.disabled = selected.size === 0;
    });
    const fraction = job.trials_total ? job.trials_finished / job.trials_total : 0;
    const tr = el("tr", { "data-job": job.id }, [
      el("td", {}, [box]),
      el("td", {}, [el("a", { href: `/dashboard/jobs/${job.id}` }, [job.name]), el("div", { class: "muted" }, [job.id])]),
      el("td", {}, [badge(job.status), job.error ? el("div", { class: "muted" }, [job.error.slice(0, 80)]) : ""]),
      el("td", {}, [progressBar(fraction), `${job.trials_finished}/${job.trials_total}`]),
      el("td", { class: "num" }, [number(job.best_ap)]),
      el("td", { class: "num" }, [String((job.front || []).length)]),
      el("td", { class: "num" }, [`${number(job.device_hours, 3)} ${deviceUnit(job.spec)}`]),
      el("td", {}, [job.created_by || "–"]),
      el("td", {}, [when(job.created_at)]),
    ]);
    tr.addEventListener("click", () => { location.href = `/dashboard/jobs/${job.id}`; });
    return tr;
  }

  async function refresh() {
    const query = new URLSearchParams({ limit: "200" });
    if (filter.value) query.set("status", filter.value);
    const { data } = await api(`/v1/jobs?${query}`);
    body.replaceChildren(...data.items.map(row));
    if (!data.items.length) body.append(el("tr", {}, [el("td", { colspan: 9, class: "muted" }, ["No jobs yet: `scaler submit tiny-cpu`."])]));
    document.getElementById("jobs-total").textContent = `${data.total} job(s)`;
    const { data: usage } = await api("/v1/usage");
    document.getElementById("team-usage").textContent =
      `team ${usage.team}: ${number(usage.gpu_hours, 3)} GPU-h · ${number(usage.cpu_hours, 3)} CPU-h over ${usage.trials} trials`;
  }

  filter.addEventListener("change", () => refresh().catch(Scaler.showError));
  compare.addEventListener("click", () => {
    location.href = `/dashboard/compare?jobs=${[...selected].join(",")}`;
  });
  Scaler.start(() => Scaler.poll(refresh, 3000));
})();
