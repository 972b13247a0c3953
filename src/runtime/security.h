/*
 * security — what the container's process may do: capabilities, rlimits,
 * seccomp, no_new_privileges support, and the lists `features` reports.
 *
 * Owns: translating OCI `process.capabilities`, `process.rlimits` and
 * `linux.seccomp` into kernel state (libcap, setrlimit, libseccomp), with
 * errors naming the field ("linux.seccomp.syscalls[3].action: unknown action
 * SCMP_ACT_FOO", "process.capabilities.bounding[0]: unknown capability
 * CAP_FOO").
 *
 * Must not: fork, change uids, or touch mounts and namespaces.
 */
#ifndef WHARF_SECURITY_H
#define WHARF_SECURITY_H

#include "base.h"

/* --- capabilities (libcap) */
int security_caps_validate(json_t *capabilities, wharf_error *err);
/* Before setresuid(): keep the permitted set across the uid change. */
int security_caps_keep_on_setuid(wharf_error *err);
/* After the uid change: drop the bounding set to `bounding`, set effective,
 * permitted and inheritable, raise ambient. NULL drops every capability. */
int security_caps_apply(json_t *capabilities, wharf_error *err);
/* Every capability name this kernel and libcap know ("CAP_CHOWN", ...); new reference. */
json_t *security_caps_known(void);

/* --- rlimits */
int security_rlimits_validate(json_t *rlimits, wharf_error *err);
/* Applies process.rlimits to pid (0 = self) with prlimit. */
int security_rlimits_apply(json_t *rlimits, pid_t pid, wharf_error *err);

/* --- seccomp (libseccomp) */
/* Builds the filter (names, actions, operators, architectures, flags) without
 * loading it: the create-time check. NULL is fine. */
int security_seccomp_validate(json_t *seccomp, wharf_error *err);
/* Builds and loads the filter into the calling thread; call last before execve. */
int security_seccomp_load(json_t *seccomp, wharf_error *err);
/* The `features` linux.seccomp object: enabled, actions, operators, archs,
 * knownFlags, supportedFlags; new reference. */
json_t *security_seccomp_features(void);

#endif
