"use strict";
// Shared by the pages: the bearer token, API calls (with ETags), polling and small helpers.
const Scaler = (() => {
  const TOKEN_KEY = "scaler.token";
  class AuthError extends Error {}

  function takeTokenFromHash() {
    // `scaler serve` prints /dashboard/#token=…: keep it, then drop it from the address bar.
    const match = location.hash.match(/token=([^&]+)/);
    if (match) {
      localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  const token = () => localStorage.getItem(TOKEN_KEY);

  async function api(path, { etag = null, raw = false, headers: extra = {} } = {}) {
    const headers = { ...extra, Authorization: `Bearer ${token()}` };
    if (etag) headers["If-None-Match"] = etag;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (response.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      showLogin();
      throw new AuthError("the token was refused");
    }
    if (response.status === 304) return { notModified: true, etag };
    if (!response.ok) {
      let detail = await response.text();
      try { detail = JSON.parse(detail).detail; detail = detail.message || JSON.stringify(detail); } catch (_) { /* text */ }
      throw new Error(`${path}: ${response.status} ${detail}`);
    }
    if (raw) return response;
    return { data: await response.json(), etag: response.headers.get("ETag") };
  }

  function showError(error) {
    const banner = document.getElementById("error");
    if (!banner) return;
    if (error) { banner.textContent = String(error.message || error); banner.style.display = "block"; }
    else banner.style.display = "none";
  }

  const pendingStarts = [];  // every script's main (the job page has two) waits for the token
  function showLogin() {
    if (document.getElementById("login")) return;
    const overlay = el("div", { id: "login" }, [
      el("form", {}, [
        el("strong", {}, ["Scaler dashboard"]),
        el("span", { class: "muted" }, ["Paste an API token (printed by `scaler serve`)."]),
        el("input", { id: "token-input", type: "password", placeholder: "token", autocomplete: "off" }),
        el("button", { class: "primary", type: "submit" }, ["Open"]),
      ]),
    ]);
    overlay.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = overlay.querySelector("input").value.trim();
      if (!value) return;
      localStorage.setItem(TOKEN_KEY, value);
      overlay.remove();
      for (const run of pendingStarts.splice(0)) run();
    });
    document.body.appendChild(overlay);
  }

  function start(main) {
    takeTokenFromHash();
    if (token()) main();
    else { pendingStarts.push(main); showLogin(); }
  }

  // Runs `tick` now and every `ms` after it settles; errors show in the banner, polling goes on
  // until the function it returns is called.
  function poll(tick, ms) {
    let timer = null;
    let stopped = false;
    const run = async () => {
      try { await tick(); showError(null); }
      catch (error) { if (!(error instanceof AuthError)) showError(error); }
      if (!stopped) timer = setTimeout(run, ms);
    };
    run();
    return () => { stopped = true; clearTimeout(timer); };
  }

  function el(tag, attributes = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  const number = (value, digits = 3) =>
    value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);
  const millions = (value) => (value ? (value / 1e6).toFixed(2) + " M" : "–");
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const badge = (status) => el("span", { class: `badge ${status}` }, [status]);
  const deviceUnit = (spec) => ((spec?.budget?.gpus_per_trial || 0) > 0 ? "GPU-h" : "CPU-h");
  const measured = (status) => status === "completed" || status === "stopped";

  function progressBar(fraction) {
    const width = Math.max(0, Math.min(1, fraction || 0)) * 100;
    return el("span", { class: "progress" }, [el("span", { style: `width:${width.toFixed(1)}%` })]);
  }

  async function download(path, filename) {
    const response = await api(path, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: filename });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  return { api, start, poll, el, number, millions, when, badge, deviceUnit, measured, progressBar,
           download, showError, AuthError };
})();
