# SPDX-License-Identifier: GPL-2.0
#
# kunit.py --qemu_config for in-kernel KUnit suites (scripts/kernel-patches.sh):
# the stock x86_64 setup, run through qemu-system-x86_64-plain
# (kunit/qemu-wrapper.sh, put on PATH under that name by the script), which drops
# kunit.py's "-accel kvm" where KVM hangs guests. A WARN panics the guest.
from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y''',
			   qemu_arch='x86_64-plain',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0 panic=-1 oops=panic panic_on_warn=1',
			   extra_qemu_params=['-bios', 'qboot.rom', '-smp', '2'])
