#!/usr/bin/env bash
# Command 2: set up if needed, build, run every C++ unit test, the gates, then
# pytest. Exits non-zero on any failure; ends with pytest's summary line.
#
# Gates (CI runs them all; `./test.sh --quick` skips them for local iteration):
#   tsan  build/tsan (scons --sanitize=tsan): the msgq, cereal, visionipc memory
#         and loggerd writer/deleter tests; any report fails it (tools/sanitizers/)
#   asan  build/asan (scons --sanitize=asan, ASan+UBSan): every C++ test and
#         the pytest suite (but the QEMU guest tests and the two whole-pipeline
#         frame-count tests, see below) on the tree's sanitized extension modules and programs; any
#         report fails it (tools/sanitizers/)
#   fuzz  every libFuzzer target, 20000 runs from a fixed seed (tools/fuzz --gate); a crash fails it
# Always: tools/lint, the static checks (flake8, cppcheck, shellcheck), zero findings.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export CONDUIT_PREFIX=${CONDUIT_PREFIX:-test$$}
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi

./tools/install_deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }
scons -Q -j"$(nproc)" || { echo "test.sh: build failed"; exit 1; }

failed=0
for t in build/tests/*; do
  [ -x "$t" ] || continue
  echo "=== $t"
  if ! "$t" --gtest_brief=1; then
    echo "FAILED: $t"
    failed=1
  fi
done

if [ $failed -ne 0 ]; then echo "test.sh: C++ unit tests failed (see FAILED lines above)"; fi

# Not here: test_visionipc (a child forked beside the listener thread hangs
# under TSan), loggerd_process_test and loggerd_log_file_reader_test (their
# disk-full timing and RSS caps do not hold at TSan's speed and memory).
TSAN_TESTS=(msgq_test cereal_test test_visionipc_memory loggerd_writer_test loggerd_deleter_test)
if [ $quick -eq 0 ]; then
  if scons -Q -j"$(nproc)" --sanitize=tsan "${TSAN_TESTS[@]/#/build/tests/}"; then
    for t in "${TSAN_TESTS[@]}"; do
      echo "=== build/tsan/build/tests/$t"
      if ! (source tools/sanitizers/env.sh && cd build/tsan && "build/tests/$t" --gtest_brief=1); then
        echo "FAILED: build/tsan/build/tests/$t"
        failed=1
      fi
    done
  else
    echo "FAILED: scons --sanitize=tsan"
    failed=1
  fi
fi

if ! ./tools/lint; then
  echo "FAILED: tools/lint (static checks: see its findings above)"
  failed=1
fi

# ASan+UBSan over the whole tree (build/asan): every C++ test, then the pytest
# suite on the sanitized extension modules and programs (the runtimes preloaded
# into python and what it starts; leaks are checked in the C++ tests). Left out:
# the QEMU guest tests (selfdrive_tests/vm: the guest has no sanitizer
# runtime) and the two whole-pipeline tests that count frames against the
# 20 fps cameras (at ASan's speed on 2 cores the encoders fall behind the
# cameras; the rest of that module runs), and the bridge test that SIGKILLs
# the publishing bridge: at ASan's speed libzmq itself sometimes aborts in
# the remote subscriber (assertion !_io_error in stream_engine_base.cpp), an
# open finding of the bridge issue; it runs in the plain build above.
ASAN_PYTEST_SKIP=(--ignore=selfdrive_tests/vm
  --deselect=bridge/tests/test_bridge.py::test_sigkilled_bridge_restarts_and_the_gap_is_counted
  --deselect=selfdrive_tests/test_pipeline.py::test_route_segments_have_every_file_and_no_uncounted_frame_loss
  --deselect=selfdrive_tests/test_pipeline.py::test_model_ran_on_95_percent_of_road_frames_and_state_was_logged)
if [ $quick -eq 0 ]; then
  if scons -Q -j"$(nproc)" --sanitize=asan; then
    for t in build/asan/build/tests/*; do
      [ -x "$t" ] || continue
      echo "=== $t"
      if ! (source tools/sanitizers/env.sh && cd build/asan && "build/tests/${t##*/}" --gtest_brief=1); then
        echo "FAILED: $t"
        failed=1
      fi
    done
    # npm's packages (install_deps.sh) are ignored by git, so not in the mirror.
    ln -sfn "$PWD/tools/tests/js/node_modules" build/asan/tools/tests/js/node_modules
    echo "=== build/asan: pytest"
    if ! (source tools/sanitizers/env.sh && cd build/asan &&
          LD_PRELOAD="$ASAN_PRELOAD" ASAN_OPTIONS=$ASAN_PYTHON_OPTIONS PYTHONPATH="$PWD" \
            "$PYTHON" -m pytest -q -p no:cacheprovider "${ASAN_PYTEST_SKIP[@]}"); then
      echo "FAILED: pytest under ASan (build/asan)"
      failed=1
    fi
  else
    echo "FAILED: scons --sanitize=asan"
    failed=1
  fi
fi

if [ $quick -eq 0 ] && ! ./tools/fuzz --gate all; then
  echo "FAILED: tools/fuzz --gate all (a fuzz target crashed: see its crash line above)"
  failed=1
fi

"$PYTHON" -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ $rc -eq 5 ]; then rc=0; fi   # no Python tests collected is not a failure
[ $failed -ne 0 ] && exit 1
exit $rc
