// imprint's web page: fills the server-rendered shells through the REST and OpenAI-compatible
// routes. Text from memories is only ever set as textContent, never parsed as HTML.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

async function api(path, { method = "GET", json, form } = {}) {
  const headers = { "X-CSRF-Token": cookie("imprint_csrf") };
  let body = form;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const data = await response.json();
      detail = data.error?.message ?? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    } catch (_) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  return response;
}

const getJSON = async (path, options) => (await api(path, options)).json();

function say(text, kind = "") {
  const box = $("#status");
  box.textContent = text;
  box.className = kind;
}

const showError = (error) => say(error.message, "error");
const space = document.body.dataset.space;
const spacePath = `/spaces/${encodeURIComponent(space)}`;
const pagePath = (name) => `/ui/spaces/${encodeURIComponent(space)}/${name}`;
const memoryLink = (id) => el("a", { href: pagePath(`memories/${id}`), text: `#${id}` });
const shortName = (source) => source.split("/").pop();
const where = (m) => (m.metadata?.path && m.metadata?.start_line
  ? `${m.metadata.path}:${m.metadata.start_line}-${m.metadata.end_line}${m.metadata.symbol ? " " + m.metadata.symbol : ""}` : null);
const bytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`);
const percent = (x) => (x === undefined || x === null ? "-" : `${Math.round(x * 100)}%`);

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => el("tr", {}, ...cells.map((cell) => el("td", {}, cell)))));
}

function facts(list, pairs) {
  list.replaceChildren(...pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
    .flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)]));
}

async function spacesPage() {
  const { spaces } = await getJSON("/spaces");
  const rows = await Promise.all(spaces.map(async (name) => {
    const s = await getJSON(`/spaces/${encodeURIComponent(name)}`);
    return [el("a", { href: `/ui/spaces/${encodeURIComponent(name)}/memories`, text: name }), s.memories, s.sources,
      s.adapter_versions ? `${s.adapter_versions} (current v${s.current_adapter ?? "-"})` : "none", bytes(s.bytes),
      s.encrypted ? "yes" : "no", s.last_consolidation ?? "never"];
  }));
  fill($("#spaces tbody"), rows);
  say(spaces.length ? "" : "No spaces yet: add something with the CLI, the API or a space's Add page.");
}

const PAGE = 25;

async function memoriesPage() {
  let offset = 0;
  const tbody = $("#memories tbody");
  const row = (m) => [memoryLink(m.id), m.text.length > 400 ? m.text.slice(0, 400) + "…" : m.text, m.speaker ?? "",
    m.time ?? "", where(m) ?? shortName(m.source)];
  async function list() {
    const data = await getJSON(`${spacePath}/memories?limit=${PAGE}&offset=${offset}`);
    fill(tbody, data.memories.map(row));
    $("#position").textContent = data.memories.length
      ? `${offset + 1}-${offset + data.memories.length} of ${data.total}` : `none of ${data.total}`;
    $("#previous").disabled = offset === 0;
    $("#next").disabled = offset + PAGE >= data.total;
    say("");
  }
  $("#search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = $("#query").value.trim();
    if (!query) return list().catch(showError);
    try {
      const { hits } = await getJSON(`${spacePath}/search`, { method: "POST", json: { query, k: PAGE } });
      fill(tbody, hits.map((hit) => row(hit.memory)));
      $("#position").textContent = `${hits.length} best matches`;
      $("#previous").disabled = $("#next").disabled = true;
      say("");
    } catch (error) { showError(error); }
  });
  $("#clear").addEventListener("click", () => { $("#query").value = ""; offset = 0; list().catch(showError); });
  $("#previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); list().catch(showError); });
  $("#next").addEventListener("click", () => { offset += PAGE; list().catch(showError); });
  await list();
}

async function memoryPage() {
  const id = document.body.dataset.memory;
  const path = `${spacePath}/memories/${id}`;
  const m = await getJSON(path);
  $("#text").textContent = m.text;
  facts($("#facts"), [["speaker", m.speaker], ["time", m.time], ["added", m.added_at], ["where in the code", where(m)],
    ["used in answers", m.uses], ["repeats merged from", m.also_from.length ? m.also_from.join(", ") : null],
    ["replaced by", m.replaced_by ? memoryLink(m.replaced_by) : null], ["kept raw only", m.dropped],
    ["metadata", Object.keys(m.metadata).length ? JSON.stringify(m.metadata) : null]]);
  fill($("#validity tbody"), m.validity.map((v) => [v.sentence, v.valid_from ?? "", v.valid_to ?? "still valid",
    v.replaced_by ? el("span", {}, memoryLink(v.replaced_by), v.now ? ` (now: ${v.now})` : "") : ""]));
  const raw = await getJSON(`${path}/raw`);
  facts($("#source"), [["source", raw.source], ["kind", raw.kind], ["time", raw.time],
    ["original file", raw.original_bytes ? bytes(raw.original_bytes) : null]]);
  $("#raw").textContent = raw.content.length > 20000 ? raw.content.slice(0, 20000) + "\n…" : raw.content;
  $("#download").href = `${path}/raw/original`;
  $("#forget").addEventListener("click", () => {
    $("#confirm-text").textContent = `Forget memory ${id}, its repeats and its versions, in every tier?`;
    $("#confirm").hidden = false;
    $("#forget-yes").focus();
  });
  $("#forget-no").addEventListener("click", () => { $("#confirm").hidden = true; $("#forget").focus(); });
  $("#forget-yes").addEventListener("click", async () => {
    try {
      const done = await getJSON(path, { method: "DELETE" });
      $("#confirm").hidden = true;
      $("#forget").disabled = true;
      const removed = done.adapter_versions_removed;
      $("#forgotten").replaceChildren(el("p", { role: "alert", text: `Forgotten: memories ${done.memory_ids.join(", ")}. `
        + (removed.length ? `Adapter versions deleted: ${removed.join(", ")}; current now: ${done.current_adapter ?? "none"}.`
          : "No adapter version had learned it.") }), el("a", { href: pagePath("memories"), text: "Back to the memories" }));
      $("#forgotten").hidden = false;
    } catch (error) { showError(error); }
  });
}

async function droppedPage() {
  const { dropped } = await getJSON(`${spacePath}/dropped?limit=200`);
  fill($("#dropped tbody"), dropped.map((m) => [memoryLink(m.id), m.dropped, m.text, shortName(m.source)]));
  say(dropped.length ? "" : "Nothing was dropped.");
}

function highlighted(text, answer) {
  // the memory's text with the answer's words marked (built as text nodes, never parsed)
  const words = [...new Set(answer.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [])];
  if (!words.length) return [text];
  const pattern = new RegExp(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`, "giu");
  return text.split(pattern).map((part, i) => (i % 2 ? el("mark", { text: part }) : part));
}

async function askPage() {
  $("#ask").addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = $("#answer");
    answer.textContent = "";
    $("#route").replaceChildren();
    $("#shown").replaceChildren();
    say("Thinking…");
    try {
      const response = await api("/v1/chat/completions", { method: "POST", json: {
        model: `imprint/${space}`, stream: true, stream_options: { include_usage: true },
        strategy: $("#strategy").value, messages: [{ role: "user", content: $("#question").value }] } });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "", used = null, usage = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const events = buffer.split("\n\n");
        buffer = events.pop();
        for (const event of events) {
          const data = event.replace(/^data: /, "");
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          answer.textContent += chunk.choices?.[0]?.delta?.content ?? "";
          used = chunk.imprint ?? used;
          usage = chunk.usage ?? usage;
        }
      }
      say("");
      if (!used) return;
      const timings = Object.entries(used.timings ?? {}).map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(", ");
      facts($("#route"), [["answered from", used.strategy], ["why", used.route], ["prompt tokens", usage?.prompt_tokens],
        ["timings (s)", timings]]);
      const memories = await Promise.all(used.memory_ids.map((id) => getJSON(`${spacePath}/memories/${id}`)));
      $("#shown").replaceChildren(...memories.map((m) => el("li", {}, memoryLink(m.id), " ", ...highlighted(m.text, answer.textContent))));
    } catch (error) { showError(error); }
  });
}

async function addPage() {
  const results = $("#results");
  const report = (name, text, kind = "") => results.append(el("li", { class: kind }, el("strong", { text: name }), " ", text));
  $("#add-text").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { memory_ids } = await getJSON(`${spacePath}/memories`, { method: "POST",
        json: { text: $("#text").value, source: $("#text-source").value || "web" } });
      report("text", `stored as memories ${memory_ids.join(", ")}`);
      $("#text").value = "";
    } catch (error) { report("text", error.message, "error"); }
  });
  async function upload(files) {
    const progress = $("#progress");
    progress.hidden = false;
    progress.max = files.length;
    progress.value = 0;
    for (const file of files) {
      const form = new FormData();
      form.append("file", file, file.name);
      say(`Adding ${file.name} (${progress.value + 1} of ${files.length})…`);
      try {
        const done = await getJSON(`${spacePath}/files`, { method: "POST", form });
        report(file.name, done.duplicate ? "already stored" : `${done.memory_ids.length} memories`);
      } catch (error) { report(file.name, error.message, "error"); }
      progress.value += 1;
    }
    say(`${files.length} file${files.length === 1 ? "" : "s"} done.`);
  }
  $("#add-files").addEventListener("submit", (event) => {
    event.preventDefault();
    upload([...$("#files").files]).then(() => { $("#files").value = ""; });
  });
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });
}

async function adaptersPage() {
  async function list() {
    const { current, versions } = await getJSON(`${spacePath}/adapters`);
    fill($("#adapters tbody"), versions.map((v) => [`v${v.version}`, v.created_at, percent(v.metrics.probe_recall),
      percent(v.metrics.retention), v.memory_ids.length, bytes(v.bytes),
      v.promoted ? "passed" : `failed: ${v.reason}`, (v.version === current ? "current" : "") + (v.stale ? " stale" : ""),
      v.promoted && v.version !== current
        ? el("button", { type: "button", text: `Make v${v.version} current`, onclick: () => makeCurrent(v.version) }) : ""]));
    say(versions.length ? "" : "No adapter yet: start a consolidation.");
  }
  async function makeCurrent(version) {
    try {
      await api(`${spacePath}/adapters/${version}/current`, { method: "POST" });
      await list();
      say(`v${version} answers from now on.`);
    } catch (error) { showError(error); }
  }
  $("#consolidate").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const started = await getJSON(`${spacePath}/consolidate`, { method: "POST",
        json: { epochs: Number($("#epochs").value), stable_days: 0, min_uses: 0 } });
      $("#job").hidden = false;
      for (;;) {
        const job = await getJSON(`/jobs/${started.job}`);
        $("#job-status").textContent = `${job.status}: ${job.log.at(-1) ?? "starting"}`;
        $("#job-log").textContent = job.log.join("\n");
        if (job.status !== "running") {
          $("#job-progress").max = 1;
          $("#job-progress").value = 1;
          if (job.status === "failed") say(job.error, "error");
          else say(job.result?.promoted ? "The new version passed its gate and answers now." :
            `The new version did not pass its gate: ${job.result?.reason ?? ""}`);
          await list();
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } catch (error) { showError(error); }
  });
  await list();
}

async function benchPage() {
  const { folder, reports } = await getJSON("/bench");
  $("#folder").textContent = `Reports under ${folder} (IMPRINT_BENCH_DIR).`;
  const columns = ["questions", "accuracy", "exact_match", "f1", "p50_s", "prompt_tokens"];
  const format = (name, x) => (["accuracy", "exact_match"].includes(name) ? percent(x)
    : typeof x === "number" ? (Number.isInteger(x) ? x : x.toFixed(2)) : "");
  $("#reports").replaceChildren(...reports.map((r) => {
    const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "strategy" }),
      ...columns.map((c) => el("th", { scope: "col", text: c.replace("_", " ") })))), el("tbody"));
    fill($("tbody", table), Object.entries(r.summary).map(([strategy, s]) => [strategy, ...columns.map((c) => format(c, s[c]))]));
    const plots = r.plots.map((name) => el("img", { alt: `${r.name}: ${name}`, loading: "lazy",
      src: `/bench/plot?report=${encodeURIComponent(r.name)}&name=${encodeURIComponent(name)}` }));
    return el("section", {}, el("h2", { text: `${r.name}: ${r.dataset}` }),
      el("p", { text: `${r.documents} documents` }), el("div", { class: "scroll" }, table), el("div", { class: "plots" }, ...plots));
  }));
  say(reports.length ? "" : "No reports yet: run imprint bench --out into that folder.");
}

const PAGES = { spaces: spacesPage, memories: memoriesPage, memory: memoryPage, dropped: droppedPage, ask: askPage,
  add: addPage, adapters: adaptersPage, bench: benchPage };
PAGES[document.body.dataset.page]?.().catch(showError);
