"""common/testing/netns.py: the settings a test or benchmark makes on its two
namespaces take effect on the side named, and leave with the namespaces."""
import os
import subprocess
import sys

import pytest

from common.testing.netns import NetnsPair, NetnsUnavailable

CC = 'net/ipv4/tcp_congestion_control'


def test_settings_apply_to_one_side_and_leave_with_the_namespaces():
  cpu = min(os.sched_getaffinity(0))
  try:
    with NetnsPair() as net:
      net.set_rps(1, {cpu})
      net.set_sysctl(0, CC, 'reno')
      rps = subprocess.run(['ip', 'netns', 'exec', net.names[1], 'cat', f'/sys/class/net/{net.ifaces[1]}/queues/rx-0/rps_cpus'],
                           check=True, capture_output=True, text=True).stdout
      assert int(rps.replace(',', ''), 16) == 1 << cpu
      assert net.sysctl(0, CC) == 'reno'
      with open(f'/proc/sys/{CC}') as f:
        assert net.sysctl(1, CC) == f.read().strip()  # side 1 keeps the host's default
      p = net.popen(1, [sys.executable, '-c', 'import os; print(sorted(os.sched_getaffinity(0)))'], cpus={cpu},
                    stdout=subprocess.PIPE, text=True)
      assert p.communicate(timeout=10)[0].strip() == f'[{cpu}]'
  except NetnsUnavailable as e:
    pytest.skip(str(e))
  listed = subprocess.run(['ip', 'netns', 'list'], check=True, capture_output=True, text=True).stdout
  assert not any(name in listed for name in net.names)
