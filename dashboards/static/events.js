"use strict";
// A job's live events: GET /v1/jobs/{id}/events as Server-Sent Events, read with fetch rather than
// an EventSource, which cannot send the bearer token in a header (it would have to go in the URL,
// and from there into logs and the browser's history). Reconnects as an EventSource would, with the
// last id seen (Last-Event-ID): at once when the server ends the stream because its time is up,
// after ENDED_RETRY_MS when the job has ended (to see it extended or resumed), after ERROR_RETRY_MS
// when the stream fails. `onState` hears "live" (a stream is open) and "down" (it failed: poll instead).
const JobEvents = (() => {
  const ERROR_RETRY_MS = 5000;
  const ENDED_RETRY_MS = 10000;

  // the events of a chunk of the stream, `rest` keeping an unfinished one for the next chunk
  function parse(text, rest) {
    const blocks = (rest.text + text).replace(/\r\n?/g, "\n").split("\n\n");
    rest.text = blocks.pop();
    const events = [];
    for (const block of blocks) {
      const fields = {};
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;  // a keep-alive comment
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        fields[name] = name === "data" && fields.data !== undefined ? `${fields.data}\n${value}` : value;
      }
      if (fields.data !== undefined) events.push({ id: Number(fields.id), kind: fields.event, ...JSON.parse(fields.data) });
    }
    return events;
  }

  // one connection: resolves (with how many events it carried) when the server ends the stream;
  // rejects when it cannot be had or breaks
  async function readOnce(jobId, state, onEvent, onState) {
    const headers = { Accept: "text/event-stream" };
    if (state.lastEventId) headers["Last-Event-ID"] = String(state.lastEventId);
    const response = await Scaler.api(`/v1/jobs/${encodeURIComponent(jobId)}/events`, { raw: true, headers });
    if (!(response.headers.get("content-type") || "").startsWith("text/event-stream")) throw new Error("no event stream");
    onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const rest = { text: "" };
    let count = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return count;
      for (const event of parse(value, rest)) {
        state.lastEventId = event.id;
        state.ended = event.kind === "job_ended";
        count += 1;
        onEvent(event);
      }
    }
  }

  // follows the job for as long as the page is open
  function follow(jobId, onEvent, onState) {
    const state = { lastEventId: 0, ended: false };
    const run = async () => {
      let wait = 0;
      try {
        const count = await readOnce(jobId, state, onEvent, onState);
        wait = state.ended || count === 0 ? ENDED_RETRY_MS : 0;  // nothing came: the job is over
      } catch (error) {
        if (!(error instanceof Scaler.AuthError)) onState("down");  // (the login form asks for a token)
        wait = ERROR_RETRY_MS;
      }
      setTimeout(run, wait);
    };
    run();
    return state;
  }

  return { follow, parse };
})();
