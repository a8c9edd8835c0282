#!/usr/bin/env bash
# Copies Leaflet's dist files into the Mini App's static folder (bot/webapp/static/leaflet/).
# Run once when changing the pinned version; the copied files are committed, so running the bot needs no npm.
# The tarball comes from the npm registry through `npm pack` and must match the pinned integrity hash.
set -euo pipefail

VERSION="1.9.4"
INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="

root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/bot/webapp/static/leaflet"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack "leaflet@$VERSION" --silent >/dev/null
tarball="leaflet-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$INTEGRITY" ]]; then
    echo "leaflet-$VERSION.tgz does not match the pinned integrity hash:" >&2
    echo "  expected $INTEGRITY" >&2
    echo "  got      $actual" >&2
    exit 1
fi
tar -xzf "$tarball"
rm -rf "$target"
mkdir -p "$target/images"
cp package/dist/leaflet.js package/dist/leaflet.css "$target/"
cp package/dist/images/*.png "$target/images/"
cp package/LICENSE "$target/LICENSE"
echo "$VERSION" > "$target/VERSION"
echo "leaflet $VERSION copied to ${target#"$root"/}"
