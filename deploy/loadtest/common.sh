#!/usr/bin/env bash
# Helpers shared by run.sh and wrk.sh (sourced, not run). Each exits the
# calling script with status 2 on a usage error, as the scripts document.
# shellcheck disable=SC2034  # the variables set here are read by the sourcing script

# parse_args SPEC ARGS...: the options both scripts take (-u URL,
# --allow-remote, -h) and the SCENARIO operand, into url, allow_remote and
# scenario; SPEC names the script's own value options as "LETTER=VARIABLE"
# words (e.g. "n=total c=conc"). Unknown options: usage and exit 2.
parse_args() {
  local spec=$1 pair var
  shift
  while [ $# -gt 0 ]; do
    var=""
    for pair in $spec; do
      if [ "$1" = "-${pair%%=*}" ]; then var=${pair#*=}; fi
    done
    if [ -n "$var" ]; then
      printf -v "$var" '%s' "${2:?}"; shift 2
      continue
    fi
    case "$1" in
      -u) url=${2:?}; shift 2 ;;
      --allow-remote) allow_remote=1; shift ;;
      -h|--help) usage; exit 0 ;;
      -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
      *) scenario=$1; shift ;;
    esac
  done
}

# check_scenario SCENARIO: hits, new or mixed (else usage and exit 2).
check_scenario() {
  case "$1" in
    hits|new|mixed) ;;
    *) echo "scenario must be hits, new or mixed" >&2; usage >&2; exit 2 ;;
  esac
}

# check_positive MESSAGE VALUE...: every value a positive integer (else
# MESSAGE and exit 2).
check_positive() {
  local msg=$1 v; shift
  for v in "$@"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "$msg" >&2; exit 2; }
  done
}

# check_loopback URL ALLOW_REMOTE: the target must be this machine unless
# ALLOW_REMOTE is 1 (--allow-remote); exit 2 otherwise.
check_loopback() {
  local hostport host
  hostport=${1#*://}
  hostport=${hostport%%/*}
  hostport=${hostport##*@}
  case "$hostport" in
    \[*\]*) host=${hostport%%]*}; host=${host#[} ;;
    *) host=${hostport%%:*} ;;
  esac
  case "$host" in
    localhost|::1|127.*) ;;
    *)
      if [ "$2" != 1 ]; then
        echo "refusing non-loopback target '$host' (pass --allow-remote to load a host you run)" >&2
        exit 2
      fi ;;
  esac
}

# get_hit_id URL BODY: POSTs BODY to URL/v1/sources and sets id from its
# Content-Location; exits 1 when there is none.
get_hit_id() {
  local loc
  loc=$(curl -sS -o /dev/null -D - -m 30 -H 'Content-Type: application/json' \
          --data-raw "$2" "$1/v1/sources" \
        | tr -d '\r' | awk 'tolower($1) == "content-location:" {print $2}')
  id=${loc##*/}
  if [ -z "$id" ]; then
    echo "POST $1/v1/sources gave no Content-Location; is beamgrid running there?" >&2
    exit 1
  fi
}
