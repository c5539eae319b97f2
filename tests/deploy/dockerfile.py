#!/usr/bin/python3
"""A small Dockerfile reader for tests/deploy/dockerfile_check.sh.

  dockerfile.py instr DOCKERFILE STAGE INSTR   arguments of each INSTR in STAGE,
                                               one per line (continuations joined)
  dockerfile.py from DOCKERFILE                "IMAGE NAME" for each stage
  dockerfile.py apt DOCKERFILE STAGE           packages the stage apt-get installs
  dockerfile.py env DOCKERFILE STAGE           KEY=VALUE for each ENV setting
  dockerfile.py exec DOCKERFILE STAGE INSTR    the exec-form JSON array of the
                                               last INSTR (ENTRYPOINT/CMD), one
                                               word per line
  dockerfile.py healthcheck DOCKERFILE STAGE   the HEALTHCHECK's CMD (shell form)
  dockerfile.py option DOCKERFILE STAGE INSTR OPT  value of --OPT=... of INSTR
  dockerfile.py context REPO                   the build context: the working
                                               tree's files (tracked and untracked,
                                               not git-ignored) not excluded by
                                               .dockerignore, one per line

STAGE is a stage name (AS NAME) or its index; "last" is the final stage.
"""
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys


def parse(path):
    """[(image, name, [(INSTR, args)])] with line continuations joined and
    comments dropped (escape character: backslash)."""
    stages = []
    logical = ""
    lines = open(path).read().splitlines()
    instrs = []
    for raw in lines:
        s = raw.strip()
        if not logical and (not s or s.startswith("#")):
            continue
        if logical and s.startswith("#"):
            continue  # comment lines inside a continuation are ignored
        if s.endswith("\\"):
            logical += s[:-1] + " "
            continue
        logical += s
        if logical.strip():
            word, _, args = logical.strip().partition(" ")
            instrs.append((word.upper(), args.strip()))
        logical = ""
    for word, args in instrs:
        if word == "FROM":
            parts = args.split()
            parts = [p for p in parts if not p.startswith("--platform")]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append((parts[0], name, []))
        elif stages:
            stages[-1][2].append((word, args))
    return stages


def stage(stages, key):
    if key == "last":
        return stages[-1]
    for i, st in enumerate(stages):
        if st[1] == key or str(i) == key:
            return st
    sys.exit(f"no stage {key}")


def apt_packages(run):
    pkgs = []
    for cmd in re.split(r"&&|;|\|\|", run):
        words = shlex.split(cmd)
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def dockerignore_patterns(repo):
    pats = []
    p = os.path.join(repo, ".dockerignore")
    if os.path.exists(p):
        for line in open(p):
            line = line.strip()
            if line and not line.startswith("#"):
                neg = line.startswith("!")
                pat = os.path.normpath(line.lstrip("!").lstrip("/"))
                pats.append((neg, pat))
    return pats


def pattern_match(pat, path):
    """Docker's rules: the pattern matches the path or one of its parent
    directories; ** matches any number of directories."""
    rx = ""
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            rx += "(?:.*/)?"
            i += 3
        elif pat.startswith("**", i):
            rx += ".*"
            i += 2
        else:
            ch = pat[i]
            rx += {"*": "[^/]*", "?": "[^/]"}.get(ch, re.escape(ch))
            i += 1
    return re.fullmatch(rx + "(?:/.*)?", path) is not None


def context(repo):
    out = subprocess.run(
        ["git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True).stdout.decode()
    pats = dockerignore_patterns(repo)
    for f in sorted(set(out.split("\0"))):
        if not f or not os.path.isfile(os.path.join(repo, f)):
            continue  # deleted in the working tree
        excluded = False
        for neg, pat in pats:
            if pattern_match(pat, f):
                excluded = not neg
        if not excluded:
            print(f)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "context":
        return context(args[0])
    stages = parse(args[0])
    if cmd == "from":
        for image, name, _ in stages:
            print(image, name)
        return
    st = stage(stages, args[1])
    body = st[2]
    if cmd == "instr":
        for word, a in body:
            if word == args[2].upper():
                print(a)
    elif cmd == "apt":
        for word, a in body:
            if word == "RUN":
                for p in apt_packages(a):
                    print(p)
    elif cmd == "env":
        for word, a in body:
            if word == "ENV":
                words = shlex.split(a)
                if len(words) == 2 and "=" not in words[0]:
                    print(f"{words[0]}={words[1]}")  # legacy "ENV KEY VALUE"
                else:
                    for w in words:
                        print(w)
    elif cmd == "exec":
        found = [a for word, a in body if word == args[2].upper()]
        if found:
            for w in json.loads(found[-1]):
                print(w)
    elif cmd == "healthcheck":
        found = [a for word, a in body if word == "HEALTHCHECK"]
        if found:
            m = re.search(r"(?:^|\s)CMD\s+(.*)$", found[-1])
            print(m.group(1) if m else "")
    elif cmd == "option":
        found = [a for word, a in body if word == args[2].upper()]
        if found:
            m = re.search(r"--%s=(\S+)" % re.escape(args[3]), found[-1])
            if m:
                print(m.group(1))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
