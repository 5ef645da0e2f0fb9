#!/usr/bin/env bash
# Checks every relative link in README.md, SECURITY.md and docs/*.md: the file
# it names must exist, and a `#anchor` must be a heading of that file (GitHub's
# slugs: lower case, punctuation dropped, spaces to hyphens, -1, -2 … for
# repeats). Links inside code blocks and code spans are ignored; http(s) and
# mailto links are not fetched. Prints one line per broken link; exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - README.md SECURITY.md docs/*.md <<'PY'
import os, re, sys

def strip_code(text):
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)

def slugs(path):
    seen, out = {}, set()
    in_code = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # [text](url) -> text
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out

broken = checked = 0
for doc in sys.argv[1:]:
    text = strip_code(open(doc, encoding="utf-8").read())
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        checked += 1
        path, _, anchor = target.partition("#")
        file = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(file):
            print(f"{doc}: {target}: no file {file}")
            broken += 1
        elif anchor and (not file.endswith(".md") or anchor not in slugs(file)):
            print(f"{doc}: {target}: no heading #{anchor} in {file}")
            broken += 1
print(f"{checked} relative links checked in {len(sys.argv) - 1} files, {broken} broken")
sys.exit(1 if broken else 0)
PY
