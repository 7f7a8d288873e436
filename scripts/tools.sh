# Sourced by the scripts that need a developer tool (cargo-deny, the diesel CLI, cargo-mutants, schemathesis).
# Each tool lives in one per-machine cache outside the clone, keyed by its pinned version, so that a fresh clone
# on a machine that ran CI once builds none of them:
#
#   ${COALESCE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coalesce/tools}/<name>-<version>/
#
# A tool is installed into a temporary directory beside its final one and renamed into place only when the
# install succeeded, so an interrupted or failed install is never taken as present (a later run installs again),
# and two runs racing on the same tool both end with one complete copy.
#
#   cargo_tool CRATE VERSION BIN [cargo install options...]   prints the path of BIN, installing CRATE once
#   python_tool PACKAGE VERSION                                prints the path of a venv holding PACKAGE==VERSION

# The pinned versions: changing one installs the new version beside the old one on the next run.
CARGO_DENY_VERSION=0.20.2
DIESEL_CLI_VERSION=2.3.14 # matches the diesel crate in Cargo.lock
CARGO_MUTANTS_VERSION=27.1.0
SCHEMATHESIS_VERSION=4.32.5

tools_dir="${COALESCE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coalesce/tools}"

# Moves the finished install $1 to $2; when another run got there first, keeps that one and drops ours.
_tools_publish() {
  if ! mv -T "$1" "$2" 2>/dev/null; then
    rm -rf "$1"
    [ -d "$2" ] || { echo "tools: could not move $1 to $2" >&2; return 1; }
  fi
}

cargo_tool() {
  local crate=$1 version=$2 bin=$3
  shift 3
  local dir="$tools_dir/$crate-$version"
  if [ ! -x "$dir/bin/$bin" ]; then
    echo "tools: installing $crate $version into $dir (once per machine)" >&2
    mkdir -p "$tools_dir"
    local tmp
    tmp="$(mktemp -d "$tools_dir/.$crate-$version.partial.XXXXXX")"
    chmod 755 "$tmp"
    # its own target directory: a CARGO_TARGET_DIR shared with the project would mix the two builds
    if ! CARGO_TARGET_DIR="$tmp/build" cargo install --quiet --locked --root "$tmp" "$crate" --version "=$version" "$@" >&2; then
      rm -rf "$tmp"
      echo "tools: installing $crate $version failed" >&2
      return 1
    fi
    rm -rf "$tmp/build"
    _tools_publish "$tmp" "$dir" || return 1
  fi
  printf '%s\n' "$dir/bin/$bin"
}

# A venv is moved after the install, which breaks the absolute paths in its console scripts' first lines; its
# `bin/python` finds the venv from its own location, so callers run `"$venv/bin/python" -m <module>`.
python_tool() {
  local package=$1 version=$2
  local dir="$tools_dir/$package-$version"
  if [ ! -x "$dir/venv/bin/python" ]; then
    echo "tools: installing $package $version into $dir (once per machine)" >&2
    mkdir -p "$tools_dir"
    local tmp
    tmp="$(mktemp -d "$tools_dir/.$package-$version.partial.XXXXXX")"
    chmod 755 "$tmp"
    if ! { python3 -m venv "$tmp/venv" && "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package==$version"; } >&2; then
      rm -rf "$tmp"
      echo "tools: installing $package $version failed" >&2
      return 1
    fi
    _tools_publish "$tmp" "$dir" || return 1
  fi
  printf '%s\n' "$dir/venv"
}
