# The render worker image: one ECS task renders one job (docs/worker-image.md).
# Debian's slim base with Debian's Python 3.11, so scripts/measure-image-size.sh
# can rebuild exactly this root with debootstrap and measure it (under 1.0 GB).
FROM debian:bookworm-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# System packages: the project's one list (also read by scripts/setup.sh and CI),
# after the stand-in that keeps the desktop browser, Mesa's GPU drivers (with LLVM)
# and GTK out of the headless image (docker/headless/DEBIAN/control.in says why
# that is safe).
COPY system-packages.txt /tmp/build/system-packages.txt
COPY docker/headless /tmp/build/headless
COPY docker/build-headless-stand-in.sh /tmp/build/build-headless-stand-in.sh
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    sh /tmp/build/build-headless-stand-in.sh /tmp/build/headless /tmp/build/headless.deb; \
    apt-get install -y --no-install-recommends /tmp/build/headless.deb; \
    grep -v '^\s*#' /tmp/build/system-packages.txt | grep -v '^\s*$' \
        | xargs apt-get install -y --no-install-recommends; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /tmp/build

# The project with the worker's dependencies only (the farm extra; no dev or infra) in a
# virtualenv, which then drops pip and setuptools: nothing installs at run time.
# imageio-ffmpeg (MoviePy's) is built from source, so it has no bundled 170 MB
# ffmpeg and uses the system one like the rest of renderlib. --no-compile keeps
# ~40 MB of .pyc out; the worker's one process compiles its imports in ~0.7 s.
COPY pyproject.toml README.md /tmp/src/
COPY renderlib /tmp/src/renderlib
COPY handlers /tmp/src/handlers
RUN set -eux; \
    python3 -m venv /opt/venv; \
    PIP_NO_BINARY=imageio-ffmpeg PIP_USE_PEP517=1 /opt/venv/bin/pip install --no-compile '/tmp/src[farm]'; \
    /opt/venv/bin/python -m pip uninstall -y pip setuptools; \
    rm -rf /tmp/src
ENV PATH=/opt/venv/bin:$PATH

# An unprivileged user with a writable home: Chromium keeps its profile
# (--user-data-dir, a fresh temp dir per browser) and caches under HOME and /tmp.
RUN useradd --create-home --home-dir /home/worker --uid 10001 --user-group \
        --shell /usr/sbin/nologin worker
USER 10001:10001
ENV HOME=/home/worker
WORKDIR /home/worker

ENTRYPOINT ["python", "-m", "handlers.worker"]
