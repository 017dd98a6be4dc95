# shellcheck shell=bash disable=SC2034  # sourced: its variables are for the sourcing script
# Sourced by test.sh: how programs of the sanitizer builds run in the gates.
# Every finding halts the program (a failing test); suppressions.txt holds the
# only exceptions, each in third-party code, each with its reason.
sanitizers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# One file holds every tool's suppressions, but each tool dies on a line of a
# kind it does not know: LeakSanitizer gets the leak: lines, TSan the rest.
supp_dir=$sanitizers_dir/../../build/sanitizers
mkdir -p "$supp_dir"
grep -v '^leak:' "$sanitizers_dir/suppressions.txt" > "$supp_dir/tsan.txt"
grep -E '^(#|$|leak:)' "$sanitizers_dir/suppressions.txt" > "$supp_dir/lsan.txt"
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$supp_dir/lsan.txt:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# die_after_fork=0: msgq's tests fork children that use threads (the publisher
# in another process); TSan's default ends such a child at its first thread.
export TSAN_OPTIONS=halt_on_error=1:die_after_fork=0:second_deadlock_stack=1:suppressions=$supp_dir/tsan.txt
# Debian's python3 is not sanitized: the ASan build's extension modules need the
# runtimes loaded first. CPython keeps its own objects until exit: no leak check there.
ASAN_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
ASAN_PYTHON_OPTIONS=halt_on_error=1:detect_leaks=0
