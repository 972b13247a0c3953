#!/usr/bin/env bats
# `wharf server` serves the Kubernetes API: the real kubectl (1.32) talks to
# it through the kubeconfig it writes, on a private data directory and a
# loopback port the server picks; curl checks the wire format (Status
# objects, discovery, watches) and Debian's python3-kubernetes client
# checks watches and conflicts.

load helpers

setup_file() {
    command -v kubectl >/dev/null || skip "kubectl is not installed"
    export AS
    AS=$(mktemp -d /tmp/wharf-apiserver.XXXXXX)
    printf 'tok-bob,bob,1001,"dev,qa"\n' >"$AS/tokens.csv"
    start_server "$AS/data" "$AS/server.pid" "$AS/server.log" \
        --token-file "$AS/tokens.csv" --token admin-secret --write-kubeconfig "$AS/kubeconfig"
    export PORT
    PORT=$(sed -n 's#.*server: https://127.0.0.1:\([0-9]*\)#\1#p' "$AS/kubeconfig")
}

teardown_file() {
    [ -n "${AS:-}" ] || return 0
    for f in "$AS"/*.pid; do
        [ -e "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.1; done
    done
    # APISERVER_KEEP_LOGS=DIR keeps the servers' logs (sanitizer reports)
    [ -n "${APISERVER_KEEP_LOGS:-}" ] && cp "$AS"/*.log "$APISERVER_KEEP_LOGS"/ 2>/dev/null
    rm -rf "$AS"
}

# start_server DATA PIDFILE LOG [ARGS...]: wharf server on a free loopback port.
start_server() {
    local data=$1 pidfile=$2 log=$3
    shift 3
    "$BUILD/wharf" server --data-dir "$data" --https-listen-port 0 "$@" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
        grep -q 'serving on' "$log" 2>/dev/null && return 0
        kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    return 1
}

k() {
    kubectl --kubeconfig "$AS/kubeconfig" --cache-dir "$AS/cache" "$@" </dev/null
}

# kubectl as the token user bob
kbob() {
    kubectl --kubeconfig /dev/null --cache-dir "$AS/cache-bob" --server "https://127.0.0.1:$PORT" \
        --certificate-authority "$AS/data/tls/ca.crt" --token tok-bob "$@" </dev/null
}

# curl with the admin client certificate
api() {
    curl -sS --cacert "$AS/data/tls/ca.crt" --cert "$AS/data/tls/admin.crt" \
        --key "$AS/data/tls/admin.key" "$@"
}

# a namespace private to the test
tns() {
    local ns="t$BATS_TEST_NUMBER"
    k get ns "$ns" >/dev/null 2>&1 || k create namespace "$ns" >/dev/null
    echo "$ns"
}

@test "wharf server --help names its flags; bad flags exit 2" {
    run "$BUILD/wharf" server --help
    [ "$status" -eq 0 ]
    for f in --data-dir --bind-address --https-listen-port --datastore-endpoint --token \
        --token-file --write-kubeconfig --disable-agent; do
        [[ "$output" == *"$f"* ]]
    done
    [[ "$output" == *"no node agent yet"* ]]
    run "$BUILD/wharf" server --no-such-flag
    [ "$status" -eq 2 ]
    run "$BUILD/wharf" server --https-listen-port 99999
    [ "$status" -eq 2 ]
    [[ "$output" == *"--https-listen-port 99999: not a port number"* ]]
}

@test "first start: a CA, serving and admin certificates, and a kubeconfig kubectl uses unchanged" {
    for f in ca.crt ca.key server.crt server.key admin.crt admin.key; do
        [ -s "$AS/data/tls/$f" ]
    done
    [ "$(stat -c %a "$AS/data/tls/ca.key")" = 600 ]
    [ "$(stat -c %a "$AS/kubeconfig")" = 600 ]
    cmp "$AS/kubeconfig" "$AS/data/admin.kubeconfig"
    run openssl x509 -in "$AS/data/tls/admin.crt" -noout -subject
    [[ "$output" == *"O = system:masters"*"CN = system:admin"* ]]
    run openssl x509 -in "$AS/data/tls/server.crt" -noout -ext subjectAltName
    [[ "$output" == *"IP Address:127.0.0.1"* ]]
    [[ "$output" == *"DNS:kubernetes.default.svc"* ]]
    [[ "$output" == *"IP Address:10.43.0.1"* ]]
    openssl verify -CAfile "$AS/data/tls/ca.crt" "$AS/data/tls/server.crt" "$AS/data/tls/admin.crt"
    run k version
    [ "$status" -eq 0 ]
    [[ "$output" == *"Server Version: v1.32."* ]]
    run k get namespaces -o name
    [ "$status" -eq 0 ]
    [[ "$output" == *namespace/default*namespace/kube-node-lease*namespace/kube-public*namespace/kube-system* ]]
    run k get svc kubernetes -o jsonpath='{.spec.clusterIP} {.spec.ports[0].port}'
    [ "$output" = "10.43.0.1 443" ]
    run k get endpoints kubernetes -o jsonpath='{.subsets[0].ports[0].port}'
    [ "$output" = "$PORT" ]
}

@test "health, version and discovery endpoints; anonymous requests get 401" {
    [ "$(api "https://127.0.0.1:$PORT/healthz")" = ok ]
    [ "$(api "https://127.0.0.1:$PORT/livez")" = ok ]
    [ "$(api "https://127.0.0.1:$PORT/readyz")" = ok ]
    run api "https://127.0.0.1:$PORT/readyz?verbose"
    [[ "$output" == *"[+]etcd ok"* ]]
    run api "https://127.0.0.1:$PORT/version"
    [ "$(jq -r .major <<<"$output").$(jq -r .minor <<<"$output")" = 1.32 ]
    run api "https://127.0.0.1:$PORT/api"
    [ "$(jq -r '.kind + " " + .versions[0]' <<<"$output")" = "APIVersions v1" ]
    run api "https://127.0.0.1:$PORT/apis/apps"
    [ "$(jq -r .preferredVersion.groupVersion <<<"$output")" = apps/v1 ]
    run api "https://127.0.0.1:$PORT/apis/apps/v1"
    [ "$(jq -r '.resources[] | select(.name=="deployments/scale") | .kind' <<<"$output")" = Scale ]
    run api -H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' \
        "https://127.0.0.1:$PORT/apis"
    [ "$(jq -r .kind <<<"$output")" = APIGroupDiscoveryList ]
    [ "$(jq -r '.items[] | select(.metadata.name=="batch") | .versions[0].resources[] | select(.resource=="cronjobs") | .shortNames[0]' <<<"$output")" = cj ]
    run curl -sS --cacert "$AS/data/tls/ca.crt" "https://127.0.0.1:$PORT/api/v1/namespaces"
    [ "$(jq -r '.code, .reason' <<<"$output" | tr '\n' ' ')" = "401 Unauthorized " ]
    run curl -sS --cacert "$AS/data/tls/ca.crt" -H 'Authorization: Bearer wrong' \
        "https://127.0.0.1:$PORT/healthz"
    [ "$(jq -r .code <<<"$output")" = 401 ]
    run curl -sS --cacert "$AS/data/tls/ca.crt" -H 'Authorization: Bearer admin-secret' \
        "https://127.0.0.1:$PORT/healthz"
    [ "$output" = ok ]
}

@test "api-versions, api-resources and explain" {
    run k api-versions
    [ "$status" -eq 0 ]
    for gv in v1 apps/v1 batch/v1 rbac.authorization.k8s.io/v1 networking.k8s.io/v1 policy/v1 \
        autoscaling/v2 coordination.k8s.io/v1 discovery.k8s.io/v1; do
        grep -qx "$gv" <<<"$output"
    done
    run k api-resources
    [ "$status" -eq 0 ]
    [[ "$output" == *"deployments"*"deploy"*"apps/v1"*"true"*"Deployment"* ]]
    grep -Eq '^pods +po +v1 +true +Pod' <<<"$output"
    run k api-resources --categories=all -o name
    [[ "$output" == *pods* ]] && [[ "$output" == *deployments.apps* ]]
    [[ "$output" != *configmaps* ]]
    run k explain deployments
    [ "$status" -eq 0 ]
    [[ "$output" == *"KIND:"*"Deployment"* ]]
    [[ "$output" == *"Deployment enables declarative updates"* ]]
    run k explain pod.spec.containers
    [ "$status" -eq 0 ]
    [[ "$output" == *"imagePullPolicy"* ]]
}

@test "create namespace, configmap and secret; secrets are encrypted at rest" {
    ns=$(tns)
    run k -n "$ns" create configmap cm1 --from-literal=color=plaintext-marker-7a1
    [ "$output" = "configmap/cm1 created" ]
    run k -n "$ns" create secret generic s1 --from-literal=password=hunter2-secret-9q
    [ "$output" = "secret/s1 created" ]
    run k -n "$ns" get secret s1 -o jsonpath='{.data.password}'
    [ "$(base64 -d <<<"$output")" = hunter2-secret-9q ]
    run k -n "$ns" get secret s1 -o jsonpath='{.type}'
    [ "$output" = Opaque ]
    # the store holds the configmap's value in clear and the secret's sealed
    grep -aq plaintext-marker-7a1 "$AS"/data/db/state.db*
    ! grep -aq hunter2-secret-9q "$AS"/data/db/state.db*
    ! grep -aq "$(printf %s hunter2-secret-9q | base64)" "$AS"/data/db/state.db*
    [ "$(stat -c %a "$AS/data/cred/encryption.key")" = 600 ]
    run k -n "$ns" create configmap cm1 --from-literal=a=b
    [ "$status" -ne 0 ]
    [[ "$output" == *'configmaps "cm1" already exists'* ]]
    run k create configmap x -n no-such-ns --from-literal=a=b
    [ "$status" -ne 0 ]
    [[ "$output" == *'namespaces "no-such-ns" not found'* ]]
}

@test "apply a Deployment, Service, ConfigMap and Secret; re-apply is unchanged, a change configured" {
    ns=$(tns)
    cat >"$AS/app.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $ns, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: one}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $ns}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: $ns}
data: {level: debug}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: $ns}
stringData: {token: abc}
EOF
    run k apply -f "$AS/app.yaml"
    [ "$status" -eq 0 ]
    [ "$output" = "deployment.apps/web created
service/web created
configmap/settings created
secret/creds created" ]
    run k apply -f "$AS/app.yaml"
    [ "$output" = "deployment.apps/web unchanged
service/web unchanged
configmap/settings unchanged
secret/creds configured" ] || [ "$output" = "deployment.apps/web unchanged
service/web unchanged
configmap/settings unchanged
secret/creds unchanged" ]
    sed -i 's/nginx:1.25/nginx:1.26/; s/value: one/value: two/' "$AS/app.yaml"
    run k apply -f "$AS/app.yaml"
    [[ "${lines[0]}" == "deployment.apps/web configured" ]]
    run k -n "$ns" get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value} {.metadata.generation} {.spec.strategy.type}'
    [ "$output" = "nginx:1.26 two 2 RollingUpdate" ]
    run k -n "$ns" get secret creds -o jsonpath='{.data.token}'
    [ "$output" = YWJj ]
    run k -n "$ns" get svc web -o jsonpath='{.spec.clusterIP}'
    [[ "$output" == 10.43.* ]]
}

@test "get in every output format, with kubectl's columns" {
    ns=$(tns)
    k -n "$ns" create deployment web --image=nginx:1.25 --replicas=3 >/dev/null
    k -n "$ns" create service nodeport web --tcp=80:8080 >/dev/null
    k -n "$ns" run pod1 --image=busybox --labels=app=x -- sleep 1 >/dev/null
    run k -n "$ns" get deploy
    [[ "${lines[0]}" =~ ^NAME\ +READY\ +UP-TO-DATE\ +AVAILABLE\ +AGE$ ]]
    [[ "${lines[1]}" =~ ^web\ +0/3\ +0\ +0\ +[0-9]+s$ ]]
    run k -n "$ns" get deploy -o wide
    [[ "${lines[0]}" =~ ^NAME\ +READY\ +UP-TO-DATE\ +AVAILABLE\ +AGE\ +CONTAINERS\ +IMAGES\ +SELECTOR$ ]]
    [[ "${lines[1]}" =~ nginx\ +nginx:1.25\ +app=web$ ]]
    run k -n "$ns" get svc web
    [[ "${lines[0]}" =~ ^NAME\ +TYPE\ +CLUSTER-IP\ +EXTERNAL-IP\ +PORT\(S\)\ +AGE$ ]]
    [[ "${lines[1]}" =~ ^web\ +NodePort\ +10\.43\.[0-9.]+\ +\<none\>\ +80:3[0-9]{4}/TCP ]]
    run k -n "$ns" get pods -o wide
    [[ "${lines[0]}" =~ ^NAME\ +READY\ +STATUS\ +RESTARTS\ +AGE\ +IP\ +NODE\ +NOMINATED\ NODE\ +READINESS\ GATES$ ]]
    [[ "${lines[1]}" =~ ^pod1\ +0/1\ +Pending\ +0\ + ]]
    run k -n "$ns" get pod pod1 -o yaml
    [[ "$output" == *"kind: Pod"* ]] && [[ "$output" == *"restartPolicy: Always"* ]]
    run k -n "$ns" get pod pod1 -o json
    [ "$(jq -r .status.phase <<<"$output")" = Pending ]
    run k -n "$ns" get pods -o jsonpath='{.items[*].metadata.name}'
    [ "$output" = pod1 ]
    run k -n "$ns" get deploy,svc -o name
    [ "$output" = "deployment.apps/web
service/web" ]
    run k -n "$ns" get pods --show-labels --no-headers
    [[ "$output" == *"app=x"* ]]
    run k -n "$ns" get pods -o custom-columns=N:.metadata.name,P:.spec.restartPolicy --no-headers
    [[ "$output" =~ ^pod1\ +Always$ ]]
    run k get pods -A
    [[ "${lines[0]}" =~ ^NAMESPACE\ +NAME ]]
    run k -n "$ns" get all
    [[ "$output" == *pod/pod1* ]] && [[ "$output" == *service/web* ]] && [[ "$output" == *deployment.apps/web* ]]
}

@test "get -w streams ADDED, MODIFIED and DELETED" {
    ns=$(tns)
    k -n "$ns" create configmap before --from-literal=a=1 >/dev/null
    k -n "$ns" get configmaps -w --output-watch-events >"$AS/watch.out" 2>&1 &
    local wpid=$!
    for _ in $(seq 50); do grep -q before "$AS/watch.out" && break; sleep 0.1; done
    k -n "$ns" create configmap w1 --from-literal=a=1 >/dev/null
    k -n "$ns" patch configmap w1 -p '{"data":{"b":"2"}}' >/dev/null
    k -n "$ns" delete configmap w1 >/dev/null
    for _ in $(seq 50); do grep -q DELETED "$AS/watch.out" && break; sleep 0.1; done
    kill "$wpid"
    wait "$wpid" || true
    run cat "$AS/watch.out"
    [[ "${lines[0]}" =~ ^EVENT\ +NAME\ +DATA\ +AGE$ ]]
    grep -Eq '^ADDED +before +1 ' "$AS/watch.out"
    grep -Eq '^ADDED +w1 +1 ' "$AS/watch.out"
    grep -Eq '^MODIFIED +w1 +2 ' "$AS/watch.out"
    grep -Eq '^DELETED +w1 +2 ' "$AS/watch.out"
}

@test "watch over the wire: from a resourceVersion, label-filtered, timeoutSeconds, bookmarks" {
    ns=$(tns)
    rv=$(k -n "$ns" create configmap a -o jsonpath='{.metadata.resourceVersion}' --from-literal=x=1)
    k -n "$ns" label configmap a sel=yes >/dev/null
    k -n "$ns" create configmap b --from-literal=x=1 >/dev/null
    k -n "$ns" label configmap a sel- >/dev/null
    # from rv: the label change makes "a" enter the selection (ADDED) and
    # leave it (DELETED); "b" never matches
    run api --max-time 10 "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps?watch=1&resourceVersion=$rv&labelSelector=sel%3Dyes&timeoutSeconds=1"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.type + " " + .object.metadata.name' <<<"$output" | tr '\n' ' ')" = "ADDED a DELETED a " ]
    # one object by name
    run api --max-time 10 "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps/b?watch=1&resourceVersion=$rv&timeoutSeconds=1"
    [ "$(jq -r '.type + " " + .object.metadata.name' <<<"$output" | tr '\n' ' ')" = "ADDED b " ]
    # without a version: the current objects first; then the stream ends
    run api --max-time 10 "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion="
    [ "$status" -eq 0 ]
    [ "$(jq -r .type <<<"$output" | tr '\n' ' ')" = "ADDED ADDED BOOKMARK " ]
    [ "$(jq -r 'select(.type=="BOOKMARK") | .object.metadata.annotations["k8s.io/initial-events-end"]' <<<"$output")" = true ]
}

@test "label, annotate, and delete -l" {
    ns=$(tns)
    for n in 1 2 3; do k -n "$ns" create configmap "c$n" --from-literal=a=b >/dev/null; done
    run k -n "$ns" label configmap c1 c2 tier=front
    [ "$output" = "configmap/c1 labeled
configmap/c2 labeled" ]
    run k -n "$ns" annotate configmap c3 owner=ops
    [ "$output" = "configmap/c3 annotated" ]
    run k -n "$ns" get configmap c3 -o jsonpath='{.metadata.annotations.owner}'
    [ "$output" = ops ]
    run k -n "$ns" get configmaps -l 'tier in (front,back)' -o name
    [ "$output" = "configmap/c1
configmap/c2" ]
    run k -n "$ns" get configmaps -l '!tier' -o name
    [ "$output" = configmap/c3 ]
    run k -n "$ns" label configmap c1 tier=back
    [ "$status" -ne 0 ]
    [[ "$output" == *"'tier' already has a value (front)"* ]]
    run k -n "$ns" delete configmap -l tier=front
    [ "$output" = 'configmap "c1" deleted
configmap "c2" deleted' ]
    run k -n "$ns" get configmaps -o name
    [ "$output" = configmap/c3 ]
}

@test "patch: strategic merge, merge and JSON patch" {
    ns=$(tns)
    k -n "$ns" create deployment web --image=nginx:1.25 >/dev/null
    k -n "$ns" patch deployment web --type=json -p '[{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":"A","value":"1"}]}]' >/dev/null
    # strategic: containers merge by name and env by name, so A survives
    run k -n "$ns" patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"B","value":"2"}]}]}}}}'
    [ "$output" = "deployment.apps/web patched" ]
    run k -n "$ns" get deploy web -o jsonpath='{.spec.template.spec.containers[0].env[*].name} {.spec.template.spec.containers[0].image}'
    [ "$output" = "A B nginx:1.25" ]
    # a merge patch replaces the list
    k -n "$ns" patch deployment web --type=merge -p '{"spec":{"replicas":4,"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}' >/dev/null
    run k -n "$ns" get deploy web -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].env} {.spec.template.spec.containers[0].image}'
    [ "$output" = "4  nginx:1.27" ]
    run k -n "$ns" patch deployment web --type=json -p '[{"op":"test","path":"/spec/replicas","value":5}]'
    [ "$status" -ne 0 ]
    [[ "$output" == *"testing value /spec/replicas failed"* ]]
    run k -n "$ns" patch deployment web -p '{"spec":{"replicas":"many"}}'
    [ "$status" -ne 0 ]
    [[ "$output" == *"spec.replicas: expected an integer"* ]]
    run k -n "$ns" patch deployment web --type=merge -p '{"metadata":{"resourceVersion":"1"},"spec":{"replicas":1}}'
    [ "$status" -ne 0 ]
    [[ "$output" == *"Conflict"* ]]
}

@test "edit with a scripted EDITOR" {
    ns=$(tns)
    k -n "$ns" create configmap conf --from-literal=mode=slow >/dev/null
    printf '#!/bin/sh\nsed -i "s/mode: slow/mode: fast/" "$1"\n' >"$AS/editor.sh"
    chmod +x "$AS/editor.sh"
    run env EDITOR="$AS/editor.sh" kubectl --kubeconfig "$AS/kubeconfig" --cache-dir "$AS/cache" -n "$ns" edit configmap conf
    [ "$status" -eq 0 ]
    [ "$output" = "configmap/conf edited" ]
    run k -n "$ns" get configmap conf -o jsonpath='{.data.mode}'
    [ "$output" = fast ]
}

@test "scale subresource" {
    ns=$(tns)
    k -n "$ns" create deployment web --image=nginx >/dev/null
    run k -n "$ns" scale deployment web --replicas=4
    [ "$output" = "deployment.apps/web scaled" ]
    run k -n "$ns" get deploy web -o jsonpath='{.spec.replicas} {.metadata.generation}'
    [ "$output" = "4 2" ]
    run api "https://127.0.0.1:$PORT/apis/apps/v1/namespaces/$ns/deployments/web/scale"
    [ "$(jq -r '.kind + " " + .apiVersion + " " + (.spec.replicas|tostring) + " " + .status.selector' <<<"$output")" = "Scale autoscaling/v1 4 app=web" ]
    run k -n "$ns" scale deployment web --replicas=2 --current-replicas=3
    [ "$status" -ne 0 ]
    run k -n "$ns" create statefulset 2>/dev/null || true
}

@test "bad input gets the right Status: malformed JSON, unknown fields, wrong kinds, invalid and stale objects" {
    ns=$(tns)
    base="https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps"
    run api -X POST -H 'Content-Type: application/json' -d '{"metadata":' "$base"
    [ "$(jq -r '.code, .reason' <<<"$output" | tr '\n' ' ')" = "400 BadRequest " ]
    [[ "$(jq -r .message <<<"$output")" == *"json parse error"* ]]
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}' "$base"
    [ "$(jq -r .message <<<"$output")" = "the kind in the data (Service) does not match the expected kind (ConfigMap)" ]
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}' "$base"
    [ "$(jq -r .message <<<"$output")" = "the API version in the data (apps/v1) does not match the expected API version (v1)" ]
    run api -X POST -H 'Content-Type: text/plain' -d 'hello' "$base"
    [ "$(jq -r .code <<<"$output")" = 415 ]
    # YAML bodies, well and badly formed
    run api -X POST -H 'Content-Type: application/yaml' --data-binary $'metadata:\n  name: from-yaml\ndata: {n: "1"}\n' "$base"
    [ "$(jq -r '.metadata.name + " " + .data.n' <<<"$output")" = "from-yaml 1" ]
    run api -X POST -H 'Content-Type: application/yaml' --data-binary $'metadata:\n  name: [oops\n' "$base"
    [ "$(jq -r '.code, .reason' <<<"$output" | tr '\n' ' ')" = "400 BadRequest " ]
    [[ "$(jq -r .message <<<"$output")" == *"yaml: line"* ]]
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"x"},"dataa":{}}' "$base?fieldValidation=Strict"
    [ "$(jq -r .message <<<"$output")" = 'strict decoding error: unknown field "dataa"' ]
    run api -i -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"warned"},"dataa":{}}' "$base?fieldValidation=Warn"
    [[ "$output" == *'Warning: 299 - "unknown field \"dataa\""'* ]]
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"Not_Valid","labels":{"a":"b c"}}}' "$base"
    [ "$(jq -r '.code, .reason, .details.kind, .details.causes[0].field, .details.causes[1].field' <<<"$output" | tr '\n' ' ')" = "422 Invalid ConfigMap metadata.name metadata.labels " ]
    # kubectl's wording of the same
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\nbogus: 1\n' >"$AS/unk.yaml"
    run k -n "$ns" apply -f "$AS/unk.yaml"
    [ "$status" -ne 0 ]
    [[ "$output" == *'strict decoding error: unknown field "bogus"'* ]]
    run k -n "$ns" apply -f "$AS/unk.yaml" --validate=warn
    [ "$status" -eq 0 ]
    [[ "$output" == *'Warning: unknown field "bogus"'* ]]
    printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: ""}\n  - {name: c, image: x}\n' >"$AS/badpod.yaml"
    run k -n "$ns" create -f "$AS/badpod.yaml"
    [ "$status" -ne 0 ]
    [[ "$output" == *'The Pod "p" is invalid'* ]]
    [[ "$output" == *'spec.containers[0].image: Required value'* ]]
    [[ "$output" == *'spec.containers[1].name: Duplicate value: "c"'* ]]
    # stale update
    k -n "$ns" get configmap cm -o json >"$AS/cm.json"
    k -n "$ns" label configmap cm touched=yes >/dev/null
    run k replace -f "$AS/cm.json"
    [ "$status" -ne 0 ]
    [[ "$output" == *'Operation cannot be fulfilled on configmaps "cm": the object has been modified'* ]]
    # immutable fields
    k -n "$ns" create deployment d --image=x >/dev/null
    run k -n "$ns" patch deployment d --type=merge -p '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}'
    [ "$status" -ne 0 ]
    [[ "$output" == *'spec.selector: Invalid value'*'field is immutable'* ]]
}

@test "generateName, dryRun=All and fieldValidation=Ignore" {
    ns=$(tns)
    run k -n "$ns" create -f - -o name <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"gen-"}}'
    # (stdin is closed by k; use curl)
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"generateName":"gen-"}}' "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps"
    name=$(jq -r .metadata.name <<<"$output")
    [[ "$name" =~ ^gen-[a-z0-9]{5}$ ]]
    k -n "$ns" get configmap "$name" >/dev/null
    run k -n "$ns" create configmap dry --from-literal=a=b --dry-run=server -o jsonpath='{.metadata.name}'
    [ "$output" = dry ]
    run k -n "$ns" get configmap dry
    [ "$status" -ne 0 ]
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"ign"},"junk":1}' "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps?fieldValidation=Ignore"
    [ "$(jq -r .metadata.name <<<"$output")" = ign ]
    [ "$(jq -r .junk <<<"$output")" = null ]
    run api -X DELETE "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps/ign?dryRun=All"
    k -n "$ns" get configmap ign >/dev/null
}

@test "list: limit and continue, resourceVersionMatch, field selectors" {
    ns=$(tns)
    for n in 1 2 3 4 5; do k -n "$ns" create configmap "p$n" --from-literal=a=b >/dev/null; done
    url="https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps"
    run api "$url?limit=2"
    [ "$(jq -r '[.items[].metadata.name] | join(",")' <<<"$output")" = p1,p2 ]
    cont=$(jq -r .metadata.continue <<<"$output")
    rv=$(jq -r .metadata.resourceVersion <<<"$output")
    k -n "$ns" create configmap p6 --from-literal=a=b >/dev/null
    run api "$url?limit=2&continue=$cont"
    [ "$(jq -r '[.items[].metadata.name] | join(",")' <<<"$output")" = p3,p4 ]
    cont=$(jq -r .metadata.continue <<<"$output")
    # the pages are a consistent snapshot: p6 came later
    run api "$url?limit=2&continue=$cont"
    [ "$(jq -r '([.items[].metadata.name] | join(",")) + " " + (.metadata.continue // "end")' <<<"$output")" = "p5 end" ]
    run api "$url?resourceVersion=$rv&resourceVersionMatch=Exact"
    [ "$(jq -r '.items | length' <<<"$output")" = 5 ]
    run k -n "$ns" get configmaps --chunk-size=2 -o name
    [ "${#lines[@]}" -eq 6 ]
    run k -n "$ns" get configmaps --field-selector metadata.name=p3 -o name
    [ "$output" = configmap/p3 ]
    run k -n "$ns" get configmaps --field-selector metadata.name!=p3 -o name
    [ "${#lines[@]}" -eq 5 ]
    run k -n "$ns" get configmaps --field-selector data.a=b
    [ "$status" -ne 0 ]
    [[ "$output" == *"field label not supported: data.a"* ]]
    k -n "$ns" run fp --image=busybox >/dev/null
    run k -n "$ns" get pods --field-selector status.phase=Pending,spec.nodeName= -o name
    [ "$output" = pod/fp ]
}

@test "delete: finalizers hold an object, propagationPolicy is recorded, deletecollection" {
    ns=$(tns)
    api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"held","finalizers":["example.com/keep"]}}' \
        "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps" >/dev/null
    run k -n "$ns" delete configmap held --wait=false
    [ "$status" -eq 0 ]
    run k -n "$ns" get configmap held -o jsonpath='{.metadata.deletionTimestamp}'
    [ -n "$output" ]
    run k -n "$ns" label configmap held more=1
    [ "$status" -eq 0 ]
    k -n "$ns" patch configmap held --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
    run k -n "$ns" get configmap held
    [ "$status" -ne 0 ]
    [[ "$output" == *'configmaps "held" not found'* ]]
    k -n "$ns" create deployment fg --image=x >/dev/null
    run k -n "$ns" delete deployment fg --cascade=foreground --wait=false
    [ "$status" -eq 0 ]
    run k -n "$ns" get deployment fg -o jsonpath='{.metadata.finalizers}'
    [ "$output" = '["foregroundDeletion"]' ]
    k -n "$ns" create deployment orph --image=x >/dev/null
    k -n "$ns" delete deployment orph --cascade=orphan --wait=false >/dev/null
    run k -n "$ns" get deployment orph -o jsonpath='{.metadata.finalizers}'
    [ "$output" = '["orphan"]' ]
    # preconditions
    k -n "$ns" create configmap pre --from-literal=a=b >/dev/null
    run api -X DELETE -H 'Content-Type: application/json' -d '{"preconditions":{"uid":"nope"}}' \
        "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps/pre"
    [ "$(jq -r .code <<<"$output")" = 409 ]
    [[ "$(jq -r .message <<<"$output")" == *"Precondition failed: UID in precondition: nope"* ]]
    for n in 1 2 3; do k -n "$ns" create configmap "dc$n" --from-literal=a=b >/dev/null; done
    k -n "$ns" label configmap dc1 dc2 gone=yes >/dev/null
    run api -X DELETE "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/configmaps?labelSelector=gone%3Dyes"
    [ "$(jq -r '.kind + " " + ([.items[].metadata.name] | join(","))' <<<"$output")" = "ConfigMapList dc1,dc2" ]
    run k -n "$ns" get configmap dc3 -o name
    [ "$output" = configmap/dc3 ]
}

@test "namespace deletion removes its contents, then the namespace" {
    k create namespace doomed >/dev/null
    k -n doomed create configmap a --from-literal=a=b >/dev/null
    k -n doomed create deployment d --image=x >/dev/null
    k -n doomed create service clusterip s --tcp=80 >/dev/null
    run k delete namespace doomed --timeout=20s
    [ "$status" -eq 0 ]
    [ "$output" = 'namespace "doomed" deleted' ]
    run k get namespace doomed
    [ "$status" -ne 0 ]
    run k get all -n doomed -o name
    [ -z "$output" ]
    # terminating namespaces take no new content
    k create namespace held-ns >/dev/null
    api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"pin","finalizers":["example.com/pin"]}}' \
        "https://127.0.0.1:$PORT/api/v1/namespaces/held-ns/configmaps" >/dev/null
    k delete namespace held-ns --wait=false >/dev/null
    run k get namespace held-ns -o jsonpath='{.status.phase}'
    [ "$output" = Terminating ]
    run k -n held-ns create configmap late --from-literal=a=b
    [ "$status" -ne 0 ]
    [[ "$output" == *"because it is being terminated"* ]]
    k -n held-ns patch configmap pin --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
    for _ in $(seq 50); do k get namespace held-ns >/dev/null 2>&1 || break; sleep 0.2; done
    run k get namespace held-ns
    [ "$status" -ne 0 ]
}

@test "Services: ClusterIP and NodePort allocation never hands out one twice" {
    ns=$(tns)
    mk() {
        api -X POST -H 'Content-Type: application/json' -d "$1" \
            "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/services"
    }
    run mk '{"metadata":{"name":"a"},"spec":{"type":"NodePort","clusterIP":"10.43.200.7","ports":[{"port":80,"nodePort":31999}]}}'
    [ "$(jq -r '.spec.clusterIP + " " + (.spec.ports[0].nodePort|tostring) + " " + .spec.clusterIPs[0]' <<<"$output")" = "10.43.200.7 31999 10.43.200.7" ]
    run mk '{"metadata":{"name":"b"},"spec":{"clusterIP":"10.43.200.7","ports":[{"port":80}]}}'
    [ "$(jq -r '(.code|tostring) + " " + .details.causes[0].field' <<<"$output")" = "422 spec.clusterIPs" ]
    [[ "$(jq -r .message <<<"$output")" == *"failed to allocate IP 10.43.200.7: provided IP is already allocated"* ]]
    run mk '{"metadata":{"name":"b"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":31999}]}}'
    [ "$(jq -r '(.code|tostring) + " " + .details.causes[0].field' <<<"$output")" = "422 spec.ports[0].nodePort" ]
    [[ "$(jq -r .message <<<"$output")" == *"provided port is already allocated"* ]]
    # a refused Service holds nothing: its ClusterIP went back
    run k -n "$ns" get svc b
    [ "$status" -ne 0 ]
    run mk '{"metadata":{"name":"c"},"spec":{"clusterIP":"192.168.1.1","ports":[{"port":80}]}}'
    [[ "$(jq -r .message <<<"$output")" == *"is not in the valid range"* ]]
    run mk '{"metadata":{"name":"d"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":80}]}}'
    [[ "$(jq -r .message <<<"$output")" == *"The range of valid ports is 30000-32767"* ]]
    # many services, all different addresses
    for n in $(seq 1 8); do k -n "$ns" create service nodeport "m$n" --tcp=80 >/dev/null; done
    run k -n "$ns" get svc -o jsonpath='{range .items[*]}{.spec.clusterIP}{"\n"}{end}'
    [ "$(sort <<<"$output" | uniq -d)" = "" ]
    run k -n "$ns" get svc -o jsonpath='{range .items[*]}{.spec.ports[0].nodePort}{"\n"}{end}'
    [ "$(sort <<<"$output" | uniq -d)" = "" ]
    # deleting gives the addresses back; updates keep them
    k -n "$ns" label svc a x=y >/dev/null
    run k -n "$ns" get svc a -o jsonpath='{.spec.clusterIP} {.spec.ports[0].nodePort}'
    [ "$output" = "10.43.200.7 31999" ]
    k -n "$ns" delete svc a >/dev/null
    run mk '{"metadata":{"name":"b"},"spec":{"type":"NodePort","clusterIP":"10.43.200.7","ports":[{"port":80,"nodePort":31999}]}}'
    [ "$(jq -r .spec.clusterIP <<<"$output")" = 10.43.200.7 ]
    # NodePort -> ClusterIP releases the port
    k -n "$ns" patch svc b --type=merge -p '{"spec":{"type":"ClusterIP","ports":[{"port":80,"nodePort":null}]}}' >/dev/null
    run mk '{"metadata":{"name":"e"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":31999}]}}'
    [ "$(jq -r '.spec.ports[0].nodePort' <<<"$output")" = 31999 ]
    run k -n "$ns" patch svc e --type=merge -p '{"spec":{"clusterIP":"10.43.200.8"}}'
    [ "$status" -ne 0 ]
    [[ "$output" == *"spec.clusterIP"*"field is immutable"* ]]
}

@test "pods: binding, graceful delete, and no node agent for logs and exec" {
    ns=$(tns)
    k -n "$ns" run p --image=busybox -- sleep 100 >/dev/null
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"apiVersion":"v1","kind":"Node","name":"node1"}}' \
        "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/pods/p/binding"
    [ "$(jq -r '.status' <<<"$output")" = Success ]
    run k -n "$ns" get pod p -o jsonpath='{.spec.nodeName} {.status.conditions[0].type}'
    [ "$output" = "node1 PodScheduled" ]
    run api -X POST -H 'Content-Type: application/json' \
        -d '{"metadata":{"name":"p"},"target":{"kind":"Node","name":"node2"}}' \
        "https://127.0.0.1:$PORT/api/v1/namespaces/$ns/pods/p/binding"
    [ "$(jq -r .code <<<"$output")" = 409 ]
    run k -n "$ns" logs p
    [ "$status" -ne 0 ]
    [[ "$output" == *"no node agent yet"* ]]
    run k -n "$ns" exec p -- ls
    [ "$status" -ne 0 ]
    [[ "$output" == *"no node agent yet"* ]]
    # a scheduled pod waits for its node's agent; --force removes it now
    k -n "$ns" delete pod p --wait=false >/dev/null
    run k -n "$ns" get pod p -o jsonpath='{.metadata.deletionGracePeriodSeconds}'
    [ "$output" = 30 ]
    run k -n "$ns" get pod p
    [[ "$output" == *Terminating* ]]
    k -n "$ns" delete pod p --grace-period=0 --force >/dev/null 2>&1
    run k -n "$ns" get pod p
    [ "$status" -ne 0 ]
    # status updates go through the status subresource only
    k -n "$ns" run q --image=busybox >/dev/null
    k -n "$ns" patch pod q --subresource=status --type=merge -p '{"status":{"phase":"Running"}}' >/dev/null
    k -n "$ns" patch pod q --type=merge -p '{"status":{"phase":"Failed"}}' >/dev/null
    run k -n "$ns" get pod q -o jsonpath='{.status.phase}'
    [ "$output" = Running ]
}

@test "types of every group: create, list and Table columns" {
    ns=$(tns)
    k -n "$ns" create job j --image=busybox -- echo hi >/dev/null
    k -n "$ns" create cronjob cj --image=busybox --schedule='*/5 * * * *' >/dev/null
    k -n "$ns" create role r --verb=get --resource=pods >/dev/null
    k -n "$ns" create rolebinding rb --role=r --user=u >/dev/null
    k -n "$ns" create serviceaccount sa >/dev/null
    k -n "$ns" create quota q --hard=pods=4 >/dev/null
    k -n "$ns" create poddisruptionbudget pdb --selector=app=x --min-available=1 >/dev/null
    k -n "$ns" create ingress ing --rule='a.example/p=svc:80' >/dev/null
    k create clusterrole cr --verb=list --resource=nodes >/dev/null
    k create clusterrolebinding crb --clusterrole=cr --group=g >/dev/null
    k -n "$ns" create deployment d --image=x >/dev/null
    run k -n "$ns" autoscale deployment d --min=1 --max=3 --cpu-percent=50
    [ "$output" = "horizontalpodautoscaler.autoscaling/d autoscaled" ]
    run k -n "$ns" get hpa.v2.autoscaling d -o jsonpath='{.spec.metrics[0].resource.target.averageUtilization}'
    [ "$output" = 50 ]
    run api "https://127.0.0.1:$PORT/apis/autoscaling/v1/namespaces/$ns/horizontalpodautoscalers/d"
    [ "$(jq -r '.apiVersion + " " + (.spec.targetCPUUtilizationPercentage|tostring)' <<<"$output")" = "autoscaling/v1 50" ]
    run k -n "$ns" get job j
    [[ "${lines[0]}" =~ ^NAME\ +STATUS\ +COMPLETIONS\ +DURATION\ +AGE$ ]]
    run k -n "$ns" get job j -o jsonpath='{.spec.selector.matchLabels}'
    [[ "$output" == *batch.kubernetes.io/controller-uid* ]]
    run k -n "$ns" get cronjob cj
    [[ "${lines[0]}" =~ ^NAME\ +SCHEDULE\ +TIMEZONE\ +SUSPEND\ +ACTIVE\ +LAST\ SCHEDULE\ +AGE$ ]]
    [[ "${lines[1]}" =~ ^cj\ +\*/5\ \*\ \*\ \*\ \*\ +\<none\>\ +False\ +0\ +\<none\> ]]
    run k -n "$ns" get rolebinding rb -o wide
    [[ "${lines[1]}" =~ ^rb\ +Role/r\ +[0-9]+s\ +u ]]
    run k -n "$ns" get hpa d
    [[ "${lines[0]}" =~ ^NAME\ +REFERENCE\ +TARGETS\ +MINPODS\ +MAXPODS\ +REPLICAS\ +AGE$ ]]
    run k -n "$ns" get pdb pdb
    [[ "${lines[1]}" =~ ^pdb\ +1\ +N/A\ +0 ]]
    run k -n "$ns" get ingress ing
    [[ "${lines[1]}" =~ ^ing\ +\<none\>\ +a.example ]]
    run k -n "$ns" get quota q
    [[ "${lines[1]}" =~ pods:\ 0/4 ]]
    # the rest through apply
    cat >"$AS/misc.yaml" <<EOF
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: st, namespace: $ns}
spec:
  selector: {matchLabels: {a: b}}
  serviceName: st
  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: $ns}
spec:
  selector: {matchLabels: {a: b}}
  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc, namespace: $ns}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: $ns}
spec: {podSelector: {matchLabels: {a: b}}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: l, namespace: $ns}
spec: {holderIdentity: me}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: es, namespace: $ns}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
ports: [{port: 80}]
---
apiVersion: v1
kind: Event
metadata: {name: ev, namespace: $ns}
involvedObject: {kind: Pod, name: p, namespace: $ns}
reason: Testing
message: hello
type: Normal
EOF
    run k apply -f "$AS/misc.yaml"
    [ "$status" -eq 0 ]
    run k -n "$ns" get sts,ds,pvc,netpol,lease,endpointslice -o name
    [ "${#lines[@]}" -eq 6 ]
    run k -n "$ns" get sts st -o jsonpath='{.spec.podManagementPolicy} {.spec.replicas}'
    [ "$output" = "OrderedReady 1" ]
    run k -n "$ns" get events
    [[ "${lines[0]}" =~ ^LAST\ SEEN\ +TYPE\ +REASON\ +OBJECT\ +MESSAGE$ ]]
    [[ "${lines[1]}" =~ Normal\ +Testing\ +pod/p\ +hello$ ]]
    run k -n "$ns" get lease l
    [[ "${lines[1]}" =~ ^l\ +me ]]
}

@test "RBAC: a token user is refused until a binding lets it in; auth can-i" {
    ns=$(tns)
    k -n "$ns" run bobpod --image=x >/dev/null
    run kbob -n "$ns" get pods
    [ "$status" -ne 0 ]
    [[ "$output" == *'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "'"$ns"'"'* ]]
    run kbob auth can-i list pods -n "$ns"
    [ "$output" = no ]
    run kbob auth whoami
    [[ "$output" == *bob* ]] && [[ "$output" == *"[dev qa system:authenticated]"* ]]
    k -n "$ns" create rolebinding bob-view --clusterrole=view --group=qa >/dev/null
    run kbob -n "$ns" get pods -o name
    [ "$output" = pod/bobpod ]
    run kbob auth can-i list pods -n "$ns"
    [ "$output" = yes ]
    run kbob auth can-i delete pods -n "$ns"
    [ "$output" = no ]
    run kbob -n "$ns" delete pod bobpod
    [ "$status" -ne 0 ]
    [[ "$output" == *'pods "bobpod" is forbidden: User "bob" cannot delete resource "pods"'* ]]
    run kbob -n "$ns" get secrets
    [ "$status" -ne 0 ]
    run kbob get pods -n default
    [ "$status" -ne 0 ]
    run kbob auth can-i get pods/log -n "$ns"
    [ "$output" = yes ]
    run k auth can-i '*' '*'
    [ "$output" = yes ]
    run k auth can-i list pods --as=bob -n "$ns"
    [ "$status" -ne 0 ] || [ "$output" = yes ]
}

@test "python kubernetes client: watch and conflict" {
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import kubernetes' 2>/dev/null ||
        skip "python3-kubernetes is not installed"
    ns=$(tns)
    cat >"$AS/client.py" <<'EOF'
import sys, threading, time
from kubernetes import client, config, watch
config.load_kube_config(sys.argv[1])
ns = sys.argv[2]
v1 = client.CoreV1Api()
cm = v1.create_namespaced_config_map(ns, {"metadata": {"name": "py"}, "data": {"a": "1"}})
rv = cm.metadata.resource_version
seen = []
def watcher():
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10):
        seen.append("%s %s %s" % (ev["type"], ev["object"].metadata.name, ev["object"].data.get("a")))
        if len(seen) == 2:
            w.stop()
t = threading.Thread(target=watcher)
t.start()
time.sleep(0.5)
cm.data["a"] = "2"
v1.replace_namespaced_config_map("py", ns, cm)
try:
    cm.data["a"] = "3"
    v1.replace_namespaced_config_map("py", ns, cm)
    print("stale update accepted")
except client.rest.ApiException as e:
    print("conflict", e.status)
v1.delete_namespaced_config_map("py", ns)
t.join()
print("|".join(seen))
EOF
    run /usr/bin/python3 "$AS/client.py" "$AS/kubeconfig" "$ns"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "conflict 409" ]
    [ "${lines[1]}" = "MODIFIED py 2|DELETED py 2" ]
}

@test "a compacted resourceVersion is 410 Gone for lists and watches" {
    start_server "$AS/short" "$AS/short.pid" "$AS/short.log" --compaction-interval 1 \
        --write-kubeconfig "$AS/short.kubeconfig"
    sp=$(sed -n 's#.*server: https://127.0.0.1:\([0-9]*\)#\1#p' "$AS/short.kubeconfig")
    ks() { kubectl --kubeconfig "$AS/short.kubeconfig" --cache-dir "$AS/cache-short" "$@" </dev/null; }
    rv=$(ks create configmap old --from-literal=a=1 -o jsonpath='{.metadata.resourceVersion}')
    ks label configmap old a=1 >/dev/null
    ks label configmap old b=1 >/dev/null
    # a tick records the revision (past rv + 1), the next compacts to it
    sleep 2.5
    ks label configmap old c=1 >/dev/null
    sleep 2
    sapi() {
        curl -sS --cacert "$AS/short/tls/ca.crt" --cert "$AS/short/tls/admin.crt" \
            --key "$AS/short/tls/admin.key" "$@"
    }
    run sapi --max-time 10 "https://127.0.0.1:$sp/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=2"
    [ "$(jq -r '.type + " " + (.object.code|tostring) + " " + .object.reason' <<<"$output")" = "ERROR 410 Expired" ]
    # a watch from a recent version works
    now=$(ks get configmap old -o jsonpath='{.metadata.resourceVersion}')
    run sapi --max-time 10 "https://127.0.0.1:$sp/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$now&timeoutSeconds=1"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run sapi "https://127.0.0.1:$sp/api/v1/namespaces/default/configmaps?resourceVersion=$rv&resourceVersionMatch=Exact"
    [ "$(jq -r '(.code|tostring) + " " + .reason' <<<"$output")" = "410 Expired" ]
    kill "$(cat "$AS/short.pid")"
    rm -f "$AS/short.pid"
}

@test "etcd as the datastore" {
    command -v etcd >/dev/null || skip "etcd is not installed"
    read -r cport pport < <(/usr/bin/python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
    etcd --name t --data-dir "$AS/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
        --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
        --initial-cluster "t=http://127.0.0.1:$pport" >"$AS/etcd.log" 2>&1 &
    echo $! >"$AS/etcd.pid"
    for _ in $(seq 100); do curl -s "http://127.0.0.1:$cport/health" | grep -q true && break; sleep 0.1; done
    start_server "$AS/on-etcd" "$AS/on-etcd.pid" "$AS/on-etcd.log" \
        --datastore-endpoint "http://127.0.0.1:$cport" --write-kubeconfig "$AS/etcd.kubeconfig"
    ke() { kubectl --kubeconfig "$AS/etcd.kubeconfig" --cache-dir "$AS/cache-etcd" "$@" </dev/null; }
    run ke create configmap in-etcd --from-literal=a=b
    [ "$output" = "configmap/in-etcd created" ]
    run ke get configmap in-etcd -o jsonpath='{.data.a}'
    [ "$output" = b ]
    run ke get ns -o name
    [[ "$output" == *namespace/kube-system* ]]
    kill "$(cat "$AS/on-etcd.pid")" "$(cat "$AS/etcd.pid")"
    rm -f "$AS/on-etcd.pid" "$AS/etcd.pid"
}

@test "etcd: a three-member cluster with one member stopped keeps the API serving" {
    command -v etcd >/dev/null || skip "etcd is not installed"
    read -r c1 c2 c3 p1 p2 p3 < <(/usr/bin/python3 -c 'import socket
s=[socket.socket() for _ in range(6)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
    local cluster="m1=http://127.0.0.1:$p1,m2=http://127.0.0.1:$p2,m3=http://127.0.0.1:$p3"
    local i c p
    for i in 1 2 3; do
        c=$(eval echo "\$c$i") p=$(eval echo "\$p$i")
        etcd --name "m$i" --data-dir "$AS/etcd3-$i" --listen-client-urls "http://127.0.0.1:$c" \
            --advertise-client-urls "http://127.0.0.1:$c" --listen-peer-urls "http://127.0.0.1:$p" \
            --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "$cluster" \
            --initial-cluster-state new --initial-cluster-token "wt$$" >"$AS/etcd3-$i.log" 2>&1 &
        echo $! >"$AS/etcd3-$i.pid"
    done
    for _ in $(seq 150); do curl -s "http://127.0.0.1:$c1/health" | grep -q '"health":"true"' && break; sleep 0.1; done
    start_server "$AS/on-etcd3" "$AS/on-etcd3.pid" "$AS/on-etcd3.log" \
        --datastore-endpoint "http://127.0.0.1:$c1,http://127.0.0.1:$c2,http://127.0.0.1:$c3" \
        --write-kubeconfig "$AS/etcd3.kubeconfig"
    k3() { kubectl --kubeconfig "$AS/etcd3.kubeconfig" --cache-dir "$AS/cache-etcd3" "$@" </dev/null; }
    run k3 create configmap before-stop --from-literal=a=1
    [ "$output" = "configmap/before-stop created" ]
    # the member the server talks to first goes away
    kill "$(cat "$AS/etcd3-1.pid")"
    for _ in $(seq 50); do kill -0 "$(cat "$AS/etcd3-1.pid")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$AS/etcd3-1.pid"
    run k3 create configmap after-stop --from-literal=a=2
    [ "$output" = "configmap/after-stop created" ]
    run k3 get configmap before-stop after-stop -o jsonpath='{.items[*].data.a}'
    [ "$output" = "1 2" ]
    run k3 label configmap before-stop still=serving
    [ "$status" -eq 0 ]
    run k3 get configmaps -l still=serving -o name
    [ "$output" = configmap/before-stop ]
    kill "$(cat "$AS/on-etcd3.pid")" "$(cat "$AS/etcd3-2.pid")" "$(cat "$AS/etcd3-3.pid")"
    rm -f "$AS/on-etcd3.pid" "$AS/etcd3-2.pid" "$AS/etcd3-3.pid"
}

@test "a restart keeps objects, certificates and allocations" {
    ns=$(tns)
    k -n "$ns" create configmap survivor --from-literal=a=b >/dev/null
    k -n "$ns" create secret generic sealed --from-literal=k=v >/dev/null
    ca=$(sha256sum <"$AS/data/tls/ca.crt")
    kill "$(cat "$AS/server.pid")"
    for _ in $(seq 50); do kill -0 "$(cat "$AS/server.pid")" 2>/dev/null || break; sleep 0.1; done
    start_server "$AS/data" "$AS/server.pid" "$AS/server.log" --token-file "$AS/tokens.csv" \
        --token admin-secret --write-kubeconfig "$AS/kubeconfig"
    PORT=$(sed -n 's#.*server: https://127.0.0.1:\([0-9]*\)#\1#p' "$AS/kubeconfig")
    [ "$(sha256sum <"$AS/data/tls/ca.crt")" = "$ca" ]
    run k -n "$ns" get configmap survivor -o jsonpath='{.data.a}'
    [ "$output" = b ]
    run k -n "$ns" get secret sealed -o jsonpath='{.data.k}'
    [ "$output" = dg== ]
    run k get endpoints kubernetes -o jsonpath='{.subsets[0].ports[0].port}'
    [ "$output" = "$PORT" ]
}
