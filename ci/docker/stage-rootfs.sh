#!/bin/sh
# The Ferrotel image's whole file tree, staged from a built binary and the build host's
# runtime files:
#   ci/docker/stage-rootfs.sh BINARY OUT_DIR [CONFIG]
# OUT_DIR/rootfs gets
#   /ferrotel                        the binary, DWARF stripped (symbols kept: pprof names frames)
#   the shared libraries it links    glibc, libgcc_s, libm and the loader, at the paths ldd gives
#   /etc/ssl/certs/ca-certificates.crt   CA roots for TLS exporters
#   /usr/share/zoneinfo              time zones for filelog's time parsers
#   /etc/passwd, /etc/group          root and the otel user 10001
#   /etc/nsswitch.conf               files, then DNS
#   /etc/otelcol/config.yaml         the default config (config-examples/default-config.yaml)
#   /var/lib/otelcol/file_storage    file_storage's default directory (owned by 10001 in the
#                                    image: the Dockerfiles' COPY --chown)
#   /tmp                             mode 1777
# Both Dockerfile (from source, inside the rust image) and Dockerfile.prebuilt (a binary
# built outside Docker) take their runtime files from here, so both images hold the same.
# Needs: ldd, strip (binutils), ca-certificates and tzdata installed on the build host.
set -eu
bin=$1
out=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
config=${3:-$here/config-examples/default-config.yaml}
root=$out/rootfs
rm -rf "$root"
mkdir -p "$root"

cp "$bin" "$root/ferrotel"
strip --strip-debug "$root/ferrotel" 2>/dev/null || true
chmod 0755 "$root/ferrotel"

# the libraries and the loader, at the paths the binary asks for
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
if [ -z "$libs" ]; then
  echo "stage-rootfs: ldd found no libraries in $bin (a static binary needs none)" >&2
fi
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

for f in /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/UTC; do
  if [ ! -e "$f" ]; then
    echo "stage-rootfs: $f is missing: install ca-certificates and tzdata" >&2
    exit 1
  fi
done
mkdir -p "$root/etc/ssl/certs" "$root/usr/share"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
# zoneinfo without Debian's right/ (leap-second) and posix/ copies
mkdir -p "$root/usr/share/zoneinfo"
(cd /usr/share/zoneinfo && tar --exclude=./right --exclude=./posix -cf - .) | (cd "$root/usr/share/zoneinfo" && tar -xf -)

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
otel:x:10001:10001:otel:/var/lib/otelcol:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
otel:x:10001:
nogroup:x:65534:
GROUP
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
mkdir -p "$root/etc/otelcol" "$root/var/lib/otelcol/file_storage" "$root/tmp"
cp "$config" "$root/etc/otelcol/config.yaml"
chmod 1777 "$root/tmp"
echo "stage-rootfs: $(du -sh "$root" | cut -f1) in $root ($(echo $libs | wc -w) libraries)"
