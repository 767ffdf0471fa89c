#!/bin/sh
# Regenerates the shell completions (completions/) and the man page (man/nntop.1) from nntop's
# argument parser: swift-argument-parser writes both (--generate-completion-script and its
# generate-manual plugin), offline. Run after changing a command or option; commit the results.
set -eu
cd "$(dirname "$0")/.."
swift build --product nntop
bin="$(swift build --show-bin-path)/nntop"
mkdir -p completions man
"$bin" --generate-completion-script bash > completions/nntop.bash
"$bin" --generate-completion-script zsh > completions/_nntop
"$bin" --generate-completion-script fish > completions/nntop.fish
# The manual's date is the last commit's, so regenerating without a change changes nothing.
date="$(git log -1 --format=%cs 2>/dev/null || date +%F)"
swift package --allow-writing-to-package-directory generate-manual --configuration debug --date "$date" >/dev/null
cp .build/plugins/GenerateManual/outputs/nntop/nntop.1 man/nntop.1
echo "wrote completions/nntop.bash completions/_nntop completions/nntop.fish man/nntop.1"
