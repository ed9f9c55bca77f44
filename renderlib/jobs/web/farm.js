// The farm page: jobs, live progress, posters and finished videos, from the jobs GraphQL
// API (POST with the x-api-key the user signed in with, as AppSync takes an API key): by
// default the one on this page's own origin, or the endpoint given at sign-in (a cloud
// stack's AppSync URL). No library and no build step; it talks to that API alone.
"use strict";

const OWN_API = "/graphql";
const KEY_STORE = "renderfarm.apiKey";
const API_STORE = "renderfarm.apiUrl";
const POLL_MS = 1000;
const STATUSES = ["queued", "claimed", "running", "succeeded", "failed", "canceled"];
const UNFINISHED = new Set(["queued", "claimed", "running"]);
const LIST_LIMIT = 50;
const JOB_FIELDS = `id orgId kind status inputJson retryCount maxRetries failureReason
  progress startedAt finishedAt createdAt updatedAt`;
const EVENT_FIELDS = "id type message progress data createdAt";
const RUN_FIELDS = `id videoId status mp4Url posterUrl duration frames width height fps
  renderSeconds taskSeconds estimatedCostUsd`;

const Q = {
  whoAmI: `query WhoAmI { whoAmI { role orgId name } }`,
  jobs: `query Jobs($status: String!, $limit: Int) {
    listJobByStatusAndCreatedAt(status: $status, sortDirection: DESC, limit: $limit) {
      items { ${JOB_FIELDS} } } }`,
  job: `query Job($id: ID!) { getJob(id: $id) { ${JOB_FIELDS} } }`,
  events: `query Events($jobId: ID!, $dir: ModelSortDirection, $limit: Int) {
    listJobEventByJobIdAndCreatedAt(jobId: $jobId, sortDirection: $dir, limit: $limit) {
      items { ${EVENT_FIELDS} } } }`,
  runs: `query Runs($jobId: ID!) {
    listRenderRunByJobId(jobId: $jobId) { items { ${RUN_FIELDS} } } }`,
  setStatus: `mutation SetStatus($input: UpdateJobInput!) {
    updateJob(input: $input) { ${JOB_FIELDS} } }`,
  createRun: `mutation CreateRun($input: CreateGenerationRunInput!) {
    createGenerationRun(input: $input) { id videoId } }`,
  createJob: `mutation CreateJob($input: CreateJobInput!) {
    createJob(input: $input) { ${JOB_FIELDS} } }`,
};

const state = {
  api: OWN_API,
  key: null,
  caller: null,
  jobs: [],
  loaded: false,
  progress: new Map(), // job id -> latest progress event
  runs: new Map(), // job id -> its RenderRun (a finished job's never changes)
  detailId: null,
  timer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

class ApiError extends Error {
  constructor(message, type) {
    super(message);
    this.type = type;
  }
}

async function gql(query, variables) {
  let response;
  try {
    response = await fetch(state.api, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": state.key },
      body: JSON.stringify({ query, variables: variables || {} }),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(`The jobs API cannot be reached (${error.message}). Is the farm running?`, "Network");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (_ignored) {
    body = null;
  }
  const errors = (body && body.errors) || [];
  if (response.status === 401) {
    throw new ApiError(errors.length ? errors[0].message : "The API refused the key.", "UnauthorizedException");
  }
  if (!response.ok && !errors.length) {
    throw new ApiError(`The jobs API answered HTTP ${response.status}.`, "Http");
  }
  if (errors.length) {
    throw new ApiError(errors.map((e) => e.message).join("; "), errors[0].errorType);
  }
  return body.data;
}

// Signing in

function keyFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (key) {
    // Out of the address bar and history: the key lives only in this tab's storage.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return key;
}

async function signIn(key, api) {
  state.key = key;
  state.api = api || OWN_API;
  const data = await gql(Q.whoAmI);
  state.caller = data.whoAmI;
  sessionStorage.setItem(KEY_STORE, key);
  sessionStorage.setItem(API_STORE, state.api);
  showFarm();
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  sessionStorage.removeItem(API_STORE);
  clearTimeout(state.timer);
  Object.assign(state, { key: null, caller: null, jobs: [], loaded: false, detailId: null });
  state.progress.clear();
  state.runs.clear();
  $("farm").hidden = true;
  $("who").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  $("api-key").value = "";
  $("api-key").focus();
}

function showFarm() {
  const caller = state.caller;
  const studio = caller.role === "studio";
  $("who").textContent = studio ? `Signed in as org ${caller.orgId}` : "Signed in as the farm (every org)";
  $("who").hidden = false;
  $("sign-out").hidden = false;
  $("sign-in").hidden = true;
  $("farm").hidden = false;
  $("submit").hidden = !studio;
  for (const node of document.querySelectorAll(".org-name")) node.textContent = caller.orgId || "ORG";
  $("run-folder").placeholder = `generations/${caller.orgId || "ORG"}/VIDEO/RUN/`;
  refresh();
}

// Polling

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, POLL_MS);
}

async function refresh() {
  if (!state.key) return;
  try {
    await loadJobs();
    $("jobs-error").hidden = true;
    if (state.detailId) await loadDetail();
  } catch (error) {
    if (error.type === "UnauthorizedException" && !state.loaded) {
      signOut(error.message);
      return;
    }
    showJobsError(error);
  }
  schedule();
}

async function loadJobs() {
  const filter = $("status-filter").value;
  const statuses = filter ? [filter] : STATUSES;
  const pages = await Promise.all(
    statuses.map((status) => gql(Q.jobs, { status, limit: LIST_LIMIT })),
  );
  const jobs = pages.flatMap((page) => page.listJobByStatusAndCreatedAt.items);
  jobs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  await Promise.all([
    ...jobs.filter((job) => UNFINISHED.has(job.status)).map(loadProgress),
    ...jobs.filter((job) => job.status === "succeeded" && !state.runs.has(job.id)).map(loadRun),
  ]);
  state.jobs = jobs;
  state.loaded = true;
  renderJobs(filter);
}

async function loadProgress(job) {
  const data = await gql(Q.events, { jobId: job.id, dir: "DESC", limit: 20 });
  const latest = data.listJobEventByJobIdAndCreatedAt.items.find((e) => e.type === "progress");
  if (latest) state.progress.set(job.id, latest);
}

async function loadRun(job) {
  const data = await gql(Q.runs, { jobId: job.id });
  const run = data.listRenderRunByJobId.items[0];
  if (run) state.runs.set(job.id, run);
}

function showJobsError(error) {
  $("jobs-error-text").textContent = `Could not load the jobs: ${error.message}`;
  $("jobs-error").hidden = false;
  $("jobs-table").setAttribute("aria-busy", "false");
  if (!state.jobs.length) {
    setStateRow("The jobs could not be loaded.");
  }
}

// Jobs table

function setStateRow(text) {
  $("jobs-body").replaceChildren(el("tr", { class: "state-row" }, el("td", { colspan: 8, text })));
}

function videoOf(job) {
  try {
    const input = JSON.parse(job.inputJson);
    return (input && (input.videoId || input.generationRunId)) || job.kind;
  } catch (_ignored) {
    return job.kind;
  }
}

function parseData(event) {
  if (!event || !event.data) return {};
  if (typeof event.data === "object") return event.data;
  try {
    return JSON.parse(event.data) || {};
  } catch (_ignored) {
    return {};
  }
}

function progressCell(job) {
  const event = state.progress.get(job.id);
  if (job.status === "succeeded") return progressBar(1, "done", job);
  if (job.status === "queued") return el("span", { class: "progress-text", text: "waiting" });
  if (!UNFINISHED.has(job.status)) return el("span", { class: "progress-text", text: "—" });
  const value = job.progress ?? (event && event.progress) ?? 0;
  const data = parseData(event);
  const parts = [];
  if (data.frames && data.frames.total) parts.push(`${data.frames.done}/${data.frames.total} frames`);
  if (data.chunks && data.chunks.total) parts.push(`${data.chunks.done}/${data.chunks.total} chunks`);
  if (!parts.length && event && event.message) parts.push(event.message);
  if (!parts.length) parts.push(job.status === "claimed" ? "starting" : `${Math.round(value * 100)}%`);
  return progressBar(value, parts.join(" · "), job);
}

function progressBar(value, text, job) {
  const label = `${videoOf(job)}: ${Math.round(value * 100)}%, ${text}`;
  return el(
    "span",
    { class: "progress-line" },
    el("progress", { max: 1, value, "aria-label": label, "data-job-id": job.id }),
    el("span", { class: "progress-text", text }),
  );
}

function renderJobs(filter) {
  const table = $("jobs-table");
  table.setAttribute("aria-busy", "false");
  const focused = document.activeElement && document.activeElement.dataset.jobId;
  const jobs = state.jobs;
  if (!jobs.length) {
    setStateRow(
      filter
        ? `No ${filter} jobs.`
        : "No jobs yet. Submit a generation run above, or run renderlib submit RUN_FOLDER --org ORG.",
    );
  } else {
    $("jobs-body").replaceChildren(...jobs.map(jobRow));
  }
  const counts = STATUSES.map((s) => [s, jobs.filter((j) => j.status === s).length]).filter(([, n]) => n);
  $("jobs-summary").textContent = counts.map(([s, n]) => `${n} ${s}`).join(", ");
  if (focused) {
    const again = document.querySelector(`button[data-job-id="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function jobRow(job) {
  const run = state.runs.get(job.id);
  return el(
    "tr",
    { "data-job-id": job.id, "data-status": job.status, class: job.id === state.detailId ? "selected" : null },
    el(
      "td",
      {},
      el("button", {
        type: "button",
        class: "link",
        "data-job-id": job.id,
        "aria-label": `Open job ${videoOf(job)} (${job.status})`,
        text: videoOf(job),
        onclick: () => openDetail(job.id),
      }),
    ),
    el("td", { text: job.orgId }),
    el("td", {}, el("span", { class: `status status-${job.status}`, text: job.status })),
    el("td", {}, progressCell(job)),
    el("td", { class: "num", text: `${job.retryCount + 1} of ${job.maxRetries + 1}` }),
    el("td", {}, timeNode(job.createdAt)),
    el("td", { class: "num", text: durationOf(job) }),
    el("td", { class: "num", text: costOf(run) }),
  );
}

function timeNode(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  const text = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return el("time", { datetime: iso, text });
}

function formatSeconds(seconds) {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
}

function durationOf(job) {
  if (!job.startedAt) return "—";
  const end = job.finishedAt ? new Date(job.finishedAt) : UNFINISHED.has(job.status) ? new Date() : null;
  if (!end) return "—";
  return formatSeconds(Math.max(0, (end - new Date(job.startedAt)) / 1000));
}

// The run's estimated Fargate cost (docs/cost.md), when its worker recorded one.
function costOf(run) {
  if (!run || typeof run.estimatedCostUsd !== "number") return "—";
  return `~$${run.estimatedCostUsd.toFixed(4)}`;
}

// Job detail

async function openDetail(id) {
  state.detailId = id;
  $("detail").hidden = false;
  $("detail-title").textContent = "Job (loading…)";
  $("detail-fields").replaceChildren();
  $("events").replaceChildren(el("li", { text: "Loading events…" }));
  $("media").hidden = true;
  $("action-status").textContent = "";
  resetPlayer();
  for (const row of document.querySelectorAll("#jobs-body tr")) {
    row.classList.toggle("selected", row.dataset.jobId === id);
  }
  $("detail-title").focus();
  try {
    await loadDetail();
  } catch (error) {
    showDetailError(error);
  }
}

function closeDetail() {
  const id = state.detailId;
  state.detailId = null;
  $("detail").hidden = true;
  resetPlayer();
  const button = id && document.querySelector(`button[data-job-id="${CSS.escape(id)}"]`);
  if (button) button.focus();
}

function resetPlayer() {
  const player = $("player");
  player.pause();
  player.removeAttribute("src");
  delete player.dataset.run;
  player.load();
}

function showDetailError(error) {
  $("detail-error").textContent = `Could not load the job: ${error.message}`;
  $("detail-error").hidden = false;
}

async function loadDetail() {
  const id = state.detailId;
  const [jobData, eventData] = await Promise.all([
    gql(Q.job, { id }),
    gql(Q.events, { jobId: id, dir: "ASC", limit: 200 }),
  ]);
  if (id !== state.detailId) return;
  const job = jobData.getJob;
  $("detail-error").hidden = true;
  if (!job) {
    $("detail-title").textContent = "Job not found";
    $("detail-fields").replaceChildren();
    return;
  }
  if (job.status === "succeeded" && !state.runs.has(job.id)) await loadRun(job);
  renderDetail(job, eventData.listJobEventByJobIdAndCreatedAt.items);
}

function renderDetail(job, events) {
  const run = state.runs.get(job.id);
  $("detail-title").textContent = `Job ${videoOf(job)}: ${job.status}`;
  const rows = [
    ["Job id", job.id],
    ["Org", job.orgId],
    ["Status", job.status],
    ["Attempt", `${job.retryCount + 1} of ${job.maxRetries + 1}`],
    ["Created", timeNode(job.createdAt)],
    ["Started", timeNode(job.startedAt)],
    ["Finished", timeNode(job.finishedAt)],
    ["Duration", durationOf(job)],
  ];
  if (run) {
    rows.push(
      ["Video", `${run.width}×${run.height}, ${run.fps} fps, ${run.frames} frames, ${formatSeconds(run.duration || 0)}`],
      ["Render time", run.renderSeconds ? formatSeconds(run.renderSeconds) : "—"],
      ["Cost", costOf(run)],
    );
  }
  $("detail-fields").replaceChildren(...rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)]));
  state.progress.set(job.id, [...events].reverse().find((e) => e.type === "progress") || state.progress.get(job.id));
  $("detail-progress").replaceChildren(progressCell(job));
  $("detail-progress").hidden = !UNFINISHED.has(job.status) && job.status !== "succeeded";

  const reason = $("detail-reason");
  reason.hidden = !job.failureReason;
  reason.textContent = job.failureReason
    ? `${job.status === "failed" ? "Failed" : "Last attempt's failure"}: ${job.failureReason}`
    : "";

  const studio = state.caller && state.caller.role === "studio";
  $("cancel-job").hidden = !(studio && UNFINISHED.has(job.status));
  $("retry-job").hidden = !(studio && job.status === "failed");

  renderMedia(run);
  $("events").replaceChildren(...(events.length ? events.map(eventItem) : [el("li", { text: "No events yet." })]));
}

function renderMedia(run) {
  const media = $("media");
  if (!run || !run.mp4Url) {
    media.hidden = true;
    return;
  }
  media.hidden = false;
  const player = $("player");
  if (player.dataset.run !== run.id) {
    // Set once per run: the links change on every read, the video must not reload.
    player.dataset.run = run.id;
    player.poster = run.posterUrl || "";
    player.src = run.mp4Url;
    $("poster").src = run.posterUrl || "";
    $("player-caption").textContent = `Finished video (${formatSeconds(run.duration || 0)})`;
  }
}

function eventItem(event) {
  const data = parseData(event);
  const extra = [];
  if (data.frames && data.frames.total) extra.push(`${data.frames.done}/${data.frames.total} frames`);
  if (data.chunks && data.chunks.total) extra.push(`${data.chunks.done}/${data.chunks.total} chunks`);
  return el(
    "li",
    { "data-type": event.type },
    timeNode(event.createdAt),
    ` ${event.type}: ${event.message || ""}${extra.length ? ` (${extra.join(", ")})` : ""}`,
  );
}

async function setStatus(status, verb) {
  const id = state.detailId;
  const buttons = [$("cancel-job"), $("retry-job")];
  buttons.forEach((b) => (b.disabled = true));
  $("action-status").textContent = `${verb}…`;
  try {
    await gql(Q.setStatus, { input: { id, status } });
    $("action-status").textContent = `${verb}: done.`;
    await refreshNow();
  } catch (error) {
    $("action-status").textContent = `${verb} failed: ${error.message}`;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function refreshNow() {
  clearTimeout(state.timer);
  return refresh();
}

// Submitting a generation run that is already in storage

async function submitRun(event) {
  event.preventDefault();
  const status = $("submit-status");
  const org = state.caller.orgId;
  let folder = $("run-folder").value.trim();
  if (!folder.endsWith("/")) folder += "/";
  const parts = folder.split("/");
  const base = parts.indexOf("generations");
  const videoId = $("video-id").value.trim() || (base >= 0 ? parts[base + 2] : "");
  if (!videoId) {
    status.textContent = "Give a video id: the folder does not name one (generations/ORG/VIDEO/RUN/).";
    return;
  }
  const audio = $("audio-files").value.split("\n").map((line) => line.trim()).filter(Boolean);
  const button = event.submitter || $("submit-form").querySelector("button");
  button.disabled = true;
  status.textContent = "Submitting…";
  try {
    const run = (await gql(Q.createRun, {
      input: {
        orgId: org,
        videoId,
        artifactPrefix: folder,
        scriptArtifactKey: `${folder}script.json`,
        timelineArtifactKey: `${folder}timeline.json`,
        audioArtifactKeys: audio.map((name) => folder + name.replace(/^\/+/, "")),
      },
    })).createGenerationRun;
    const job = (await gql(Q.createJob, {
      input: {
        orgId: org,
        kind: "render",
        status: "queued",
        inputJson: JSON.stringify({ generationRunId: run.id, videoId }),
      },
    })).createJob;
    status.textContent = `Submitted: job ${job.id} is ${job.status}.`;
    $("submit-form").reset();
    await refreshNow();
  } catch (error) {
    status.textContent = `Not submitted: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

// Start

function start() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      await signIn($("api-key").value.trim(), $("api-url").value.trim());
    } catch (error) {
      signOut(`Not signed in: ${error.message}`);
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("status-filter").addEventListener("change", () => {
    $("jobs-table").setAttribute("aria-busy", "true");
    setStateRow("Loading jobs…");
    state.jobs = [];
    refreshNow();
  });
  $("jobs-retry-load").addEventListener("click", refreshNow);
  $("detail-close").addEventListener("click", closeDetail);
  $("cancel-job").addEventListener("click", () => setStatus("canceled", "Canceling"));
  $("retry-job").addEventListener("click", () => setStatus("queued", "Retrying"));
  $("submit-form").addEventListener("submit", submitRun);
  window.addEventListener("hashchange", () => {
    const key = keyFromFragment();
    if (key) signIn(key).catch((error) => signOut(`Not signed in: ${error.message}`));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.detailId) closeDetail();
  });

  const key = keyFromFragment() || sessionStorage.getItem(KEY_STORE);
  if (!key) {
    signOut();
    return;
  }
  signIn(key, sessionStorage.getItem(API_STORE)).catch((error) =>
    signOut(`Not signed in: ${error.message}`),
  );
}

start();
