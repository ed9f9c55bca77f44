// Installed before any page script (Page.addScriptToEvaluateOnNewDocument).
// It replaces every clock the page can read with a virtual one that only moves
// when renderlib seeks a frame, and exposes the page API of DESIGN.md.
// __RENDERLIB_CONFIG__ is replaced with {fps, frameRate: [num, den], props, holdTimeoutMs, epochMs}.
(() => {
  const config = __RENDERLIB_CONFIG__;
  const realSetTimeout = window.setTimeout.bind(window);
  const realClearTimeout = window.clearTimeout.bind(window);
  const RealDate = window.Date;
  const MAX_TIMER_RUNS_PER_FRAME = 100000;

  let now = 0; // virtual milliseconds since the page loaded
  let unchangedFrame = -1;
  let currentFrame = -1;
  const errors = [];
  const timers = new Map(); // id -> {fn, args, at, interval}
  let nextTimerId = 1;
  const frameCallbacks = new Map();
  let nextFrameCallbackId = 1;
  const animationStarts = new WeakMap(); // Animation -> virtual ms it began
  const holds = new Map(); // id -> {label, promise}
  let nextHoldId = 1;

  const describe = (error) =>
    error && error.stack ? String(error.stack).split("\n").slice(0, 3).join(" | ") : String(error);
  window.addEventListener("error", (event) => {
    // Resource load errors (e.g. a blocked request) arrive here without an error object.
    if (event.error !== undefined || event.message) errors.push(describe(event.error || event.message));
  });
  window.addEventListener("unhandledrejection", (event) => errors.push(describe(event.reason)));

  // --- clocks ---------------------------------------------------------------
  class VirtualDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(VirtualDate.now());
      else super(...args);
    }
    // Whole milliseconds, as browsers give them (performance.now() keeps the fraction).
    static now() {
      return Math.floor(config.epochMs + now);
    }
  }
  window.Date = VirtualDate;
  Object.defineProperty(window.performance, "now", { value: () => now, configurable: true });

  const addTimer = (fn, delay, args, repeat) => {
    const id = nextTimerId++;
    const wait = Math.max(0, Number(delay) || 0);
    timers.set(id, { fn, args, at: now + wait, interval: repeat ? Math.max(1, wait) : null });
    return id;
  };
  window.setTimeout = (fn, delay, ...args) => addTimer(fn, delay, args, false);
  window.setInterval = (fn, delay, ...args) => addTimer(fn, delay, args, true);
  window.clearTimeout = (id) => timers.delete(id);
  window.clearInterval = (id) => timers.delete(id);
  window.requestAnimationFrame = (callback) => {
    const id = nextFrameCallbackId++;
    frameCallbacks.set(id, callback);
    return id;
  };
  window.cancelAnimationFrame = (id) => frameCallbacks.delete(id);

  const call = (fn, args) => {
    try {
      if (typeof fn === "function") fn(...args);
      else if (typeof fn === "string") (0, eval)(fn);
    } catch (error) {
      errors.push(describe(error));
    }
  };

  const runTimersUntil = (target) => {
    for (let runs = 0; runs < MAX_TIMER_RUNS_PER_FRAME; runs++) {
      let dueId = null;
      let due = null;
      for (const [id, timer] of timers) {
        if (timer.at <= target && (due === null || timer.at < due.at)) {
          dueId = id;
          due = timer;
        }
      }
      if (due === null) return;
      now = due.at;
      if (due.interval === null) timers.delete(dueId);
      else due.at += due.interval;
      call(due.fn, due.args);
      registerAnimations();
    }
    errors.push(`timers kept scheduling more timers at ${now} ms (over ${MAX_TIMER_RUNS_PER_FRAME})`);
  };

  // --- animations -----------------------------------------------------------
  // CSS animations, transitions and element.animate() all run on the real
  // document timeline; each is paused and put at the virtual time elapsed since
  // it first appeared.
  const registerAnimations = () => {
    const animations = document.getAnimations();
    for (const animation of animations) {
      if (!animationStarts.has(animation)) {
        animationStarts.set(animation, now);
        animation.pause();
      }
    }
    return animations;
  };
  const seekAnimations = () => {
    for (const animation of registerAnimations()) {
      const started = animationStarts.get(animation);
      animation.currentTime = (now - started) * (animation.playbackRate || 1);
    }
  };

  // A media element is seeked a little past the frame's time: Chromium truncates the
  // target to whole microseconds, which would land just before a source frame that
  // starts exactly at N/fps and show the one before it.
  const MEDIA_SEEK_NUDGE_S = 2e-6;
  // Each <video>'s presented frames, seen by requestVideoFrameCallback: after a seek the
  // capture waits for the new frame to be composited, not only for "seeked".
  const presentedFrames = new WeakMap(); // video -> {waiters}
  const watchFrames = (video) => {
    let state = presentedFrames.get(video);
    if (state === undefined) {
      state = { waiters: [] };
      presentedFrames.set(video, state);
      const onFrame = () => {
        for (const resolve of state.waiters.splice(0)) resolve();
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
    return state;
  };
  const nextPresentedFrame = (state) => new Promise((resolve) => state.waiters.push(resolve));

  const metadataLoaded = (media) =>
    media.readyState >= 1
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          media.addEventListener("loadedmetadata", resolve, { once: true });
          media.addEventListener("error", () => reject(new Error(`cannot load ${media.currentSrc || media.src}`)), {
            once: true,
          });
        });

  const mediaTargets = new WeakMap(); // media element -> the time renderlib last seeked it to
  const seekOne = async (media, target) => {
    media.pause();
    await metadataLoaded(media);
    let seekTo = target / 1000 + MEDIA_SEEK_NUDGE_S;
    if (Number.isFinite(media.duration)) {
      seekTo = media.loop ? seekTo % media.duration : Math.min(seekTo, media.duration);
    }
    // Seeking again to where it already is presents no new frame to wait for.
    if (media.readyState >= 2 && mediaTargets.get(media) === seekTo) return;
    mediaTargets.set(media, seekTo);
    const frames = media instanceof HTMLVideoElement ? watchFrames(media) : null;
    const seeked = new Promise((resolve) => media.addEventListener("seeked", resolve, { once: true }));
    const presented = frames ? nextPresentedFrame(frames) : null;
    media.currentTime = seekTo;
    await seeked;
    if (presented) await drawnUntil(presented);
  };

  // Chromium draws a frame only when renderlib asks (begin-frame control), and a video
  // shows its new frame only in a drawn one: ask, through renderlib's binding, until then.
  const drawnUntil = async (promise) => {
    let waiting = true;
    const ask = () => {
      if (!waiting) return;
      window.__renderlibDrawFrame("");
      realSetTimeout(ask, 5);
    };
    ask();
    try {
      await promise;
    } finally {
      waiting = false;
    }
  };

  const seekMedia = (target) =>
    withTimeout(
      Promise.all(Array.from(document.querySelectorAll("video, audio"), (media) => seekOne(media, target))),
      () => "media elements to seek",
    );

  // --- waiting for the frame to be ready -------------------------------------
  const withTimeout = (promise, what) =>
    new Promise((resolve, reject) => {
      const timer = realSetTimeout(
        () => reject(new Error(`timed out after ${config.holdTimeoutMs} ms waiting for ${what()}`)),
        config.holdTimeoutMs,
      );
      promise.then(
        (value) => {
          realClearTimeout(timer);
          resolve(value);
        },
        (error) => {
          realClearTimeout(timer);
          reject(error);
        },
      );
    });

  const pendingImages = () =>
    Array.from(document.images).filter((img) => !img.complete).map((img) => img.decode().catch(() => {}));

  const waitUntilReady = async () => {
    await withTimeout(document.fonts.ready, () => "fonts to load");
    await withTimeout(Promise.all(pendingImages()), () => "images to load");
    while (holds.size > 0) {
      const labels = () => `hold(s) ${Array.from(holds.values(), (h) => JSON.stringify(h.label)).join(", ")}`;
      await withTimeout(Promise.all(Array.from(holds.values(), (h) => h.promise)), labels);
    }
  };

  // --- the frame step renderlib calls ----------------------------------------
  const step = async (frame) => {
    currentFrame = frame;
    // Exact for rates like 30000/1001: one division of whole numbers.
    const target = (frame * 1000 * config.frameRate[1]) / config.frameRate[0];
    // Animations that appeared since the last step began at the time the clock showed
    // then (0 for those on the page as it loaded), even when this step jumps far ahead.
    registerAnimations();
    runTimersUntil(target);
    now = target;
    // Media first, so animation callbacks that read a media element's currentTime see
    // this frame's; then again for any element those callbacks added.
    await seekMedia(now);
    const callbacks = Array.from(frameCallbacks.values());
    frameCallbacks.clear();
    for (const callback of callbacks) call(callback, [now]);
    if (typeof window.renderFrame === "function") {
      await window.renderFrame(frame, now / 1000);
    }
    seekAnimations();
    await seekMedia(now);
    await waitUntilReady();
  };

  const takeErrors = () => errors.splice(0, errors.length);

  // Seeks frames first..last (inclusive) in order; only the last is meant to be
  // captured. Returns {unchanged, errors} where unchanged says the last frame
  // looks exactly like the one before it.
  const seek = async (first, last) => {
    try {
      for (let frame = first; frame <= last; frame++) await step(frame);
    } catch (error) {
      errors.push(describe(error));
    }
    return { unchanged: unchangedFrame === last, errors: takeErrors() };
  };

  window.__renderlibRuntime = { seek, takeErrors };
  window.renderlib = Object.freeze({
    props: config.props,
    fps: config.fps,
    hold(label) {
      const id = nextHoldId++;
      let release;
      const promise = new Promise((resolve) => (release = resolve));
      holds.set(id, { label: String(label), promise });
      return () => {
        holds.delete(id);
        release();
      };
    },
    unchanged() {
      unchangedFrame = currentFrame;
    },
  });
})();
