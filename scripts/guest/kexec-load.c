// SPDX-License-Identifier: GPL-2.0
/*
 * kexec-load - minimal static kexec loader for the kho-rs test initramfs.
 *
 *   kexec-load KERNEL INITRD CMDLINE [-e]
 *
 * Loads KERNEL and INITRD with kexec_file_load(2) (the only path that carries
 * KHO) and, with -e, reboots into it with reboot(LINUX_REBOOT_CMD_KEXEC).
 * kexec-tools is dynamically linked, so the initramfs carries this instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int kfd, ifd;
	long ret;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "-e"))) {
		fprintf(stderr, "usage: %s KERNEL INITRD CMDLINE [-e]\n", argv[0]);
		return 2;
	}
	kfd = open(argv[1], O_RDONLY);
	if (kfd < 0) {
		fprintf(stderr, "kexec-load: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ifd = open(argv[2], O_RDONLY);
	if (ifd < 0) {
		fprintf(stderr, "kexec-load: open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	ret = syscall(SYS_kexec_file_load, kfd, ifd, strlen(argv[3]) + 1, argv[3], 0UL);
	if (ret) {
		fprintf(stderr, "kexec-load: kexec_file_load: %s\n", strerror(errno));
		return 1;
	}
	printf("kexec-load: loaded %s\n", argv[1]);
	if (argc == 5) {
		fflush(stdout);
		sync();
		reboot(LINUX_REBOOT_CMD_KEXEC);
		fprintf(stderr, "kexec-load: reboot(KEXEC): %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
