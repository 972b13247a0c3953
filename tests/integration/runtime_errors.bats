#!/usr/bin/env bats
# Bad input: each case fails with a non-zero status and one error line that
# names what is wrong, and leaves no state directory, cgroup or process.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
    make_bundle "$B"
    # Lets no_leftovers recognise a process whose root is this rootfs.
    touch "$B/rootfs/.marker-$ID"
}

teardown() {
    cleanup_containers
}

# create_fails PATTERN: `create` fails, prints exactly one error line on
# stderr matching PATTERN (grep -iE), and leaves nothing behind.
create_fails() {
    rt_capture create --bundle "$B" "$ID"
    echo "status=$status stderr=$stderr" >&2
    [ "$status" -ne 0 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    echo "$stderr" | grep -qiE "$1"
    no_leftovers
}

# no_leftovers: no state directory in the root, no cgroup with the id, no
# process running the container's command from this bundle.
no_leftovers() {
    [ -z "$(ls -A "$(test_root)" 2>/dev/null)" ]
    [ -z "$(cgroup_leftovers "$ID")" ]
    local p
    for p in $(pgrep -x sleep); do
        if [ -e "/proc/$p/root/.marker-$ID" ]; then
            echo "process $p left running in the rootfs" >&2
            return 1
        fi
    done
}

@test "config.json that is not JSON" {
    echo '{"ociVersion": "1.0.2", bad' >"$B/config.json"
    if is_runc; then
        # runc prints only the decoder's message.
        create_fails 'invalid character'
    else
        create_fails 'config\.json'
    fi
}

@test "a missing config.json" {
    rm "$B/config.json"
    create_fails 'config\.json'
}

@test "process.args missing" {
    edit_config "$B" 'del(.process.args)'
    create_fails 'args'
}

@test "process.args empty" {
    edit_config "$B" '.process.args = []'
    create_fails 'args'
}

@test "unknown namespace type" {
    edit_config "$B" '.linux.namespaces += [{type: "foo"}]'
    create_fails 'foo'
    echo "$stderr" | grep -qi namespace
}

@test "root.path pointing to a missing directory" {
    edit_config "$B" '.root.path = "no-such-rootfs"'
    create_fails 'root'
    echo "$stderr" | grep -q 'no-such-rootfs'
}

@test "a mount with a relative destination" {
    is_runc && skip "runc 1.1 only warns about a relative mount destination"
    edit_config "$B" '.mounts += [{destination: "relative/dir", type: "tmpfs", source: "tmpfs"}]'
    create_fails 'relative/dir|destination'
}

@test "a namespace path that does not exist" {
    edit_config "$B" '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then {type: "network", path: "/no/such/netns"} else . end]'
    create_fails '/no/such/netns'
}

@test "a process.cwd that is not absolute" {
    edit_config "$B" '.process.cwd = "relative"'
    create_fails 'cwd'
}

@test "an executable that does not exist in the rootfs" {
    edit_config "$B" '.process.args = ["/no/such/binary"]'
    create_fails '/no/such/binary'
}

@test "an unknown rlimit type" {
    edit_config "$B" '.process.rlimits = [{type: "RLIMIT_NO_SUCH", soft: 1, hard: 1}]'
    create_fails 'RLIMIT_NO_SUCH'
}

@test "an unknown seccomp action" {
    edit_config "$B" '.linux.seccomp = {defaultAction: "SCMP_ACT_NO_SUCH", syscalls: []}'
    create_fails 'SCMP_ACT_NO_SUCH|action'
}

@test "a user namespace without uid mappings" {
    edit_config "$B" '.linux.namespaces += [{type: "user"}] | del(.linux.uidMappings, .linux.gidMappings)'
    is_runc && skip "runc 1.1 accepts a user namespace without mappings"
    create_fails 'mapping|uidMappings'
}

@test "start, kill, state, pause and delete of an unknown id fail" {
    for cmd in start "kill" state pause resume delete ps; do
        rt_capture "$cmd" "nosuch-$ID"
        echo "$cmd: $status $stderr" >&2
        [ "$status" -ne 0 ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        echo "$stderr" | grep -qi 'not exist\|no such\|not found'
        # runc says only "container does not exist".
        is_runc || echo "$stderr" | grep -qF "nosuch-$ID"
    done
    [ -z "$(ls -A "$(test_root)" 2>/dev/null)" ]
}

@test "start of a running container fails and leaves it running" {
    create_ct "$B" "$ID"
    rt start "$ID"
    rt_capture start "$ID"
    [ "$status" -ne 0 ]
    [ "$(ct_status "$ID")" = running ]
}

@test "create with an invalid id" {
    for bad in "a/b" "../x" ".." "bad id" ""; do
        rt_capture create --bundle "$B" "$bad"
        echo "id '$bad': $status $stderr" >&2
        [ "$status" -ne 0 ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        echo "$stderr" | grep -qi 'id'
    done
    [ -z "$(ls -A "$(test_root)" 2>/dev/null)" ]
    [ ! -e "$BATS_TEST_TMPDIR/x" ]
}

@test "create without an id" {
    rt_capture create --bundle "$B"
    [ "$status" -ne 0 ]
    # runc: '"create" requires exactly 1 argument(s)'.
    echo "$stderr" | grep -qiE 'id|argument'
    [ -z "$(ls -A "$(test_root)" 2>/dev/null)" ]
}

@test "an unknown command" {
    rt_capture no-such-command
    [ "$status" -ne 0 ]
}

@test "a bundle directory that does not exist" {
    rt_capture create --bundle "$BATS_TEST_TMPDIR/no-such-bundle" "$ID"
    [ "$status" -ne 0 ]
    echo "$stderr" | grep -q 'no-such-bundle'
    [ -z "$(ls -A "$(test_root)" 2>/dev/null)" ]
}
