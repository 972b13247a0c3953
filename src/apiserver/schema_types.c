/*
 * The schemas of the served types in schema.c's notation. The main
 * workload types (Pod and the pod template under every controller,
 * Service, ConfigMap, Secret, Namespace, RBAC) are spelled out field by
 * field, as of Kubernetes 1.32, so unknown fields are caught and lists
 * merge by their keys; rarely written subtrees (probes, security contexts,
 * affinity, volume sources, the specs of the less central types) are "o":
 * accepted as they come, not checked further.
 */
#include "internal.h"

struct schema_def {
    const char *name;
    const char *body;
};

const struct schema_def schema_defs[] = {
    /* meta/v1 */
    {"ObjectMeta",
     "name:s generateName:s namespace:s selfLink:s uid:s resourceVersion:s generation:i "
     "creationTimestamp:t deletionTimestamp:t deletionGracePeriodSeconds:i labels:{s} "
     "annotations:{s} ownerReferences:[OwnerReference]@uid finalizers:[s]@ managedFields:[o]"},
    {"OwnerReference", "apiVersion:s! kind:s! name:s! uid:s! controller:b blockOwnerDeletion:b"},
    {"LabelSelector", "matchLabels:{s} matchExpressions:[LabelSelectorRequirement]"},
    {"LabelSelectorRequirement", "key:s! operator:s! values:[s]"},
    {"ObjectReference",
     "kind:s namespace:s name:s uid:s apiVersion:s resourceVersion:s fieldPath:s"},
    {"LocalObjectReference", "name:s"},

    /* core/v1: pods */
    {"Pod", "^ spec:PodSpec status:PodStatus"},
    {"PodSpec",
     "volumes:[Volume]@name initContainers:[Container]@name containers:[Container]@name! "
     "ephemeralContainers:[o]@name restartPolicy:s terminationGracePeriodSeconds:i "
     "activeDeadlineSeconds:i dnsPolicy:s nodeSelector:{s} serviceAccountName:s "
     "serviceAccount:s automountServiceAccountToken:b nodeName:s hostNetwork:b hostPID:b "
     "hostIPC:b shareProcessNamespace:b securityContext:o "
     "imagePullSecrets:[LocalObjectReference]@name hostname:s subdomain:s affinity:o "
     "schedulerName:s tolerations:[Toleration] hostAliases:[HostAlias]@ip priorityClassName:s "
     "priority:i dnsConfig:o readinessGates:[o] runtimeClassName:s enableServiceLinks:b "
     "preemptionPolicy:s overhead:{q} topologySpreadConstraints:[o]@topologyKey "
     "setHostnameAsFQDN:b os:o hostUsers:b schedulingGates:[o]@name resourceClaims:[o]@name "
     "resources:ResourceRequirements"},
    {"Container",
     "name:s! image:s command:[s] args:[s] workingDir:s ports:[ContainerPort]@containerPort "
     "envFrom:[o] env:[EnvVar]@name resources:ResourceRequirements resizePolicy:[o] "
     "restartPolicy:s volumeMounts:[VolumeMount]@mountPath volumeDevices:[o]@devicePath "
     "livenessProbe:o readinessProbe:o startupProbe:o lifecycle:o terminationMessagePath:s "
     "terminationMessagePolicy:s imagePullPolicy:s securityContext:o stdin:b stdinOnce:b tty:b"},
    {"ContainerPort", "name:s hostPort:i containerPort:i! protocol:s hostIP:s"},
    {"EnvVar", "name:s! value:s valueFrom:o"},
    {"ResourceRequirements", "limits:{q} requests:{q} claims:[o]@name"},
    {"VolumeMount",
     "name:s! readOnly:b recursiveReadOnly:s mountPath:s! subPath:s mountPropagation:s "
     "subPathExpr:s"},
    {"Volume", "* name:s!"},
    {"Toleration", "key:s operator:s value:s effect:s tolerationSeconds:i"},
    {"HostAlias", "ip:s! hostnames:[s]"},
    {"PodStatus", "* conditions:[o]@type phase:s podIP:s podIPs:[o]@ip hostIP:s hostIPs:[o]@ip "
                  "message:s reason:s nominatedNodeName:s startTime:t qosClass:s"},
    {"PodTemplateSpec", "metadata:ObjectMeta spec:PodSpec"},
    {"PodTemplate", "^ template:PodTemplateSpec"},

    /* core/v1: the rest */
    {"Service", "^ spec:ServiceSpec status:o"},
    {"ServiceSpec",
     "ports:[ServicePort]@port selector:{s} clusterIP:s clusterIPs:[s] type:s externalIPs:[s] "
     "sessionAffinity:s loadBalancerIP:s loadBalancerSourceRanges:[s] externalName:s "
     "externalTrafficPolicy:s healthCheckNodePort:i publishNotReadyAddresses:b "
     "sessionAffinityConfig:o ipFamilies:[s] ipFamilyPolicy:s allocateLoadBalancerNodePorts:b "
     "loadBalancerClass:s internalTrafficPolicy:s trafficDistribution:s"},
    {"ServicePort", "name:s protocol:s appProtocol:s port:i! targetPort:is nodePort:i"},
    {"ConfigMap", "^ data:{s} binaryData:{s} immutable:b"},
    {"Secret", "^ data:{s} stringData:{s} type:s immutable:b"},
    {"Namespace", "^ spec:NamespaceSpec status:o"},
    {"NamespaceSpec", "finalizers:[s]"},
    {"Node", "^ spec:o status:o"},
    {"Endpoints", "^ subsets:[o]"},
    {"Event",
     "^ involvedObject:ObjectReference! reason:s message:s source:o firstTimestamp:t "
     "lastTimestamp:t count:i type:s eventTime:s series:o action:s related:ObjectReference "
     "reportingComponent:s reportingInstance:s"},
    {"LimitRange", "^ spec:o"},
    {"ResourceQuota", "^ spec:o status:o"},
    {"ServiceAccount", "^ secrets:[ObjectReference]@name imagePullSecrets:[LocalObjectReference] "
                       "automountServiceAccountToken:b"},
    {"PersistentVolume", "^ spec:o status:o"},
    {"PersistentVolumeClaim", "^ spec:o status:o"},
    {"Binding", "^ target:ObjectReference!"},

    /* apps/v1 */
    {"ControllerRevision", "^ data:o revision:i!"},
    {"Deployment", "^ spec:DeploymentSpec status:o"},
    {"DeploymentSpec",
     "replicas:i selector:LabelSelector! template:PodTemplateSpec! strategy:o "
     "minReadySeconds:i revisionHistoryLimit:i paused:b progressDeadlineSeconds:i"},
    {"ReplicaSet", "^ spec:ReplicaSetSpec status:o"},
    {"ReplicaSetSpec",
     "replicas:i minReadySeconds:i selector:LabelSelector! template:PodTemplateSpec"},
    {"StatefulSet", "^ spec:StatefulSetSpec status:o"},
    {"StatefulSetSpec",
     "replicas:i selector:LabelSelector! template:PodTemplateSpec! volumeClaimTemplates:[o] "
     "serviceName:s podManagementPolicy:s updateStrategy:o revisionHistoryLimit:i "
     "minReadySeconds:i persistentVolumeClaimRetentionPolicy:o ordinals:o"},
    {"DaemonSet", "^ spec:DaemonSetSpec status:o"},
    {"DaemonSetSpec",
     "selector:LabelSelector! template:PodTemplateSpec! updateStrategy:o minReadySeconds:i "
     "revisionHistoryLimit:i"},

    /* batch/v1 */
    {"Job", "^ spec:JobSpec status:o"},
    {"JobSpec",
     "parallelism:i completions:i activeDeadlineSeconds:i podFailurePolicy:o successPolicy:o "
     "backoffLimit:i backoffLimitPerIndex:i maxFailedIndexes:i selector:LabelSelector "
     "manualSelector:b template:PodTemplateSpec! ttlSecondsAfterFinished:i completionMode:s "
     "suspend:b podReplacementPolicy:s managedBy:s"},
    {"CronJob", "^ spec:CronJobSpec status:o"},
    {"CronJobSpec",
     "schedule:s! timeZone:s startingDeadlineSeconds:i concurrencyPolicy:s suspend:b "
     "jobTemplate:JobTemplateSpec! successfulJobsHistoryLimit:i failedJobsHistoryLimit:i"},
    {"JobTemplateSpec", "metadata:ObjectMeta spec:JobSpec"},

    /* the other groups */
    {"Lease", "^ spec:o"},
    {"EndpointSlice", "^ addressType:s! endpoints:[o] ports:[o]"},
    {"Role", "^ rules:[PolicyRule]"},
    {"ClusterRole", "^ rules:[PolicyRule] aggregationRule:o"},
    {"PolicyRule", "verbs:[s]! apiGroups:[s] resources:[s] resourceNames:[s] nonResourceURLs:[s]"},
    {"RoleBinding", "^ subjects:[Subject] roleRef:RoleRef!"},
    {"ClusterRoleBinding", "^ subjects:[Subject] roleRef:RoleRef!"},
    {"Subject", "kind:s! apiGroup:s name:s! namespace:s"},
    {"RoleRef", "apiGroup:s! kind:s! name:s!"},
    {"HorizontalPodAutoscaler", "^ spec:o status:o"},
    {"Ingress", "^ spec:o status:o"},
    {"NetworkPolicy", "^ spec:o status:o"},
    {"PodDisruptionBudget", "^ spec:o status:o"},
    {"SelfSubjectAccessReview", "^ spec:o! status:o"},
    {"SelfSubjectRulesReview", "^ spec:o! status:o"},
    {"SubjectAccessReview", "^ spec:o! status:o"},
    {"LocalSubjectAccessReview", "^ spec:o! status:o"},
    {"SelfSubjectReview", "^ status:o"},
    {"Scale", "^ spec:o status:o"},
};

const size_t schema_n_defs = sizeof(schema_defs) / sizeof(schema_defs[0]);
