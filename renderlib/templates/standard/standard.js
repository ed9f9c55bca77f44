// The standard template: a generation run's scenes (renderlib.props, built by
// renderlib/generation_run.py) drawn as a pure function of the frame's time.
//
// Each frame computes a small "look" object from the time alone; apply() sets
// every style from it. Equal looks mean identical pixels, so when frame N's
// look equals frame N-1's the page calls renderlib.unchanged() and renderlib
// reuses the previous capture instead of taking a new one.
(() => {
  const props = window.renderlib.props;
  const fps = window.renderlib.fps;
  const scenes = props.scenes;
  const stage = document.getElementById("stage");
  const caption = document.getElementById("caption");
  const progress = document.getElementById("progress");
  const progressFill = document.getElementById("progress-fill");

  document.title = props.title || "standard";
  const theme = props.theme || {};
  for (const name of ["background", "text", "accent"]) {
    if (theme[name]) document.documentElement.style.setProperty(`--${name}`, theme[name]);
  }

  // The runtime's own formula for a frame's time, so frame N-1's look is
  // computed at exactly the time it was drawn at.
  const timeOf = (frame) => (frame * 1000) / fps / 1000;
  const layerOf = (scene, type) => scene.layers.find((layer) => layer.type === type);
  const clamp01 = (x) => Math.min(1, Math.max(0, x));
  const smooth = (x) => x * x * (3 - 2 * x);

  // --- the DOM, built once ----------------------------------------------------
  const built = scenes.map((scene) => {
    const root = document.createElement("section");
    root.className = "scene";
    root.dataset.id = scene.id;
    if (scene.background) root.style.background = scene.background;
    const title = layerOf(scene, "title");
    if (title) {
      const slide = document.createElement("div");
      slide.className = "title-slide";
      const h1 = document.createElement("h1");
      h1.textContent = scene.title;
      slide.append(h1);
      if (title.subtitle) {
        const p = document.createElement("p");
        p.textContent = title.subtitle;
        slide.append(p);
      }
      root.append(slide);
    } else {
      const heading = document.createElement("h2");
      heading.className = "heading";
      heading.textContent = scene.title;
      root.append(heading);
    }
    const bulletsLayer = layerOf(scene, "bullets");
    const bullets = [];
    if (bulletsLayer) {
      const list = document.createElement("ul");
      list.className = "bullets";
      for (const cue of scene.cues) {
        for (const text of cue.bullets) {
          const item = document.createElement("li");
          item.textContent = text;
          list.append(item);
          bullets.push({ element: item, at: cue.start, reveal: bulletsLayer.reveal });
        }
      }
      root.append(list);
    }
    document.getElementById("scenes").append(root);
    return { root, bullets };
  });

  // --- what frame time t looks like -------------------------------------------
  const currentScene = (t) => {
    let index = -1;
    scenes.forEach((scene, i) => {
      if (scene.start <= t) index = i;
    });
    return index;
  };

  const captionAt = (scene, t) => {
    if (!layerOf(scene, "captions")) return "";
    for (const cue of scene.cues) {
      if (cue.segments.length) {
        const segment = cue.segments.find((s) => s.start <= t && t < s.end);
        if (segment) return segment.text;
      } else if (cue.start <= t && t < cue.end) {
        return cue.text;
      }
    }
    return "";
  };

  // Whole pixels, and only every `interval` seconds: between moves the bar, and
  // so the frame, stays exactly the same.
  const progressWidth = (layer, t) => {
    const step = Math.floor(t / layer.interval + 1e-9) * layer.interval;
    const full = stage.clientWidth;
    return Math.min(full, Math.round((full * step) / props.duration));
  };

  const look = (t) => {
    const index = currentScene(t);
    const result = { scene: index, from: -1, kind: "", p: 1, reveals: [], caption: "", bar: -1 };
    if (index < 0) return result;
    const scene = scenes[index];
    const transition = scene.transition;
    if (transition && t < scene.start + transition.duration) {
      result.from = index - 1;
      result.kind = transition.type;
      result.p = smooth(clamp01((t - scene.start) / transition.duration));
    }
    for (const i of result.from >= 0 ? [result.from, index] : [index]) {
      result.reveals.push(
        built[i].bullets.map((b) => (b.reveal > 0 ? clamp01((t - b.at) / b.reveal) : +(t >= b.at))),
      );
    }
    result.caption = captionAt(scene, t);
    const bar = layerOf(scene, "progress");
    if (bar) result.bar = progressWidth(bar, t);
    return result;
  };

  // --- drawing a look -----------------------------------------------------------
  const place = (i, { opacity = 1, transform = "none", clip = "none", z = 1 }) => {
    const style = built[i].root.style;
    style.display = "block";
    style.opacity = String(opacity);
    style.transform = transform;
    style.clipPath = clip;
    style.zIndex = String(z);
  };

  const apply = (state) => {
    built.forEach(({ root }) => (root.style.display = "none"));
    if (state.scene >= 0) {
      const p = state.p;
      if (state.kind === "fade") {
        if (state.from >= 0) place(state.from, {});
        place(state.scene, { opacity: p, z: 2 });
      } else if (state.kind === "slide") {
        if (state.from >= 0) place(state.from, { transform: `translateX(${-p * 100}%)` });
        place(state.scene, { transform: `translateX(${(1 - p) * 100}%)`, z: 2 });
      } else if (state.kind === "wipe") {
        if (state.from >= 0) place(state.from, {});
        place(state.scene, { clip: `inset(0 ${(1 - p) * 100}% 0 0)`, z: 2 });
      } else {
        place(state.scene, {});
      }
      const shown = state.from >= 0 ? [state.from, state.scene] : [state.scene];
      shown.forEach((i, k) => {
        built[i].bullets.forEach((bullet, b) => {
          const r = state.reveals[k][b];
          bullet.element.style.visibility = r > 0 ? "visible" : "hidden";
          bullet.element.style.opacity = String(r);
          bullet.element.style.transform = `translateY(${(1 - smooth(r)) * 1.5}vh)`;
        });
      });
    }
    caption.hidden = state.caption === "";
    caption.textContent = state.caption;
    progress.hidden = state.bar < 0;
    progressFill.style.width = `${Math.max(0, state.bar)}px`;
  };

  let last = { frame: -1, key: "" };
  window.renderFrame = (frame) => {
    const state = look(timeOf(frame));
    apply(state);
    // Frames come in order, so the previous frame's look is usually already known;
    // a worker's first frame has none and works it out.
    const key = JSON.stringify(state);
    const previousKey =
      last.frame === frame - 1 ? last.key : frame > 0 ? JSON.stringify(look(timeOf(frame - 1))) : null;
    last = { frame, key };
    if (previousKey === key) {
      window.renderlib.unchanged();
    }
  };
})();
