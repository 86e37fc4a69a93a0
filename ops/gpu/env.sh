# ops/gpu/env.sh -- sourced on the GPU machine: unpacks the Debian packages that
# ops/gpu/fetch_deps.sh downloaded (carried in .gpudeps/) into a private prefix and points
# pkg-config, the compiler and the loader at it. Nothing is unpacked into /.
#
# Usage (from the repository root):  . ops/gpu/env.sh
DLLM_DEPS_PREFIX=${DLLM_DEPS_PREFIX:-/opt/dllm-deps}
if [ ! -d "$DLLM_DEPS_PREFIX/usr" ]; then
  mkdir -p "$DLLM_DEPS_PREFIX"
  for f in .gpudeps/*.deb; do dpkg -x "$f" "$DLLM_DEPS_PREFIX"; done
fi
_ml=$DLLM_DEPS_PREFIX/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_SYSROOT_DIR=$DLLM_DEPS_PREFIX
export PKG_CONFIG_LIBDIR=$_ml/pkgconfig:$_ml/openblas-pthread/pkgconfig:$DLLM_DEPS_PREFIX/usr/share/pkgconfig
export PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export CMAKE_PREFIX_PATH=$DLLM_DEPS_PREFIX/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
export LD_LIBRARY_PATH=$_ml:$_ml/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LIBRARY_PATH=$_ml:$_ml/openblas-pthread${LIBRARY_PATH:+:$LIBRARY_PATH}
if ! command -v pkg-config >/dev/null 2>&1; then
  export PATH=$DLLM_DEPS_PREFIX/usr/bin:$PATH
  [ -e "$DLLM_DEPS_PREFIX/usr/bin/pkg-config" ] || ln -s pkgconf "$DLLM_DEPS_PREFIX/usr/bin/pkg-config"
fi
unset _ml
