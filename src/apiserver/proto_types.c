/*
 * Protobuf field numbers of the Kubernetes types, for proto.c: how
 * kube-apiserver's "application/vnd.kubernetes.protobuf" wire format lays
 * out each message (Kubernetes 1.32). One string per message:
 *
 *   "pkg.Message NUM:jsonName:KIND ..."
 *
 * KIND: s string, i varint integer, b bool, B bytes (JSON base64), n double,
 * t Time, T MicroTime, q Quantity, x IntOrString, o RawExtension (JSON),
 * pkg.Message a nested message; [K] repeated, {K} map with string keys;
 * a trailing ! marks a pointer field, kept even when it holds the zero value
 * (other zero scalars are what Go's JSON encoding omits). Status subtrees of
 * top-level kinds are left out: clients never send them in requests.
 *
 * Written from the types' generated.proto and types.go (k8s.io/api and
 * k8s.io/apimachinery v0.32) as a table of the wire format's facts.
 */
#include <stddef.h>

const char *const proto_defs[] = {
    "apps.ControllerRevision 1:metadata:meta.ObjectMeta 2:data:o 3:revision:i",
    "apps.DaemonSet 1:metadata:meta.ObjectMeta 2:spec:apps.DaemonSetSpec",
    "apps.DaemonSetSpec 1:selector:meta.LabelSelector 2:template:core.PodTemplateSpec "
    "3:updateStrategy:apps.DaemonSetUpdateStrategy 4:minReadySeconds:i "
    "6:revisionHistoryLimit:i!",
    "apps.DaemonSetUpdateStrategy 1:type:s 2:rollingUpdate:apps.RollingUpdateDaemonSet",
    "apps.Deployment 1:metadata:meta.ObjectMeta 2:spec:apps.DeploymentSpec",
    "apps.DeploymentSpec 1:replicas:i! 2:selector:meta.LabelSelector "
    "3:template:core.PodTemplateSpec 4:strategy:apps.DeploymentStrategy 5:minReadySeconds:i "
    "6:revisionHistoryLimit:i! 7:paused:b 9:progressDeadlineSeconds:i!",
    "apps.DeploymentStrategy 1:type:s 2:rollingUpdate:apps.RollingUpdateDeployment",
    "apps.ReplicaSet 1:metadata:meta.ObjectMeta 2:spec:apps.ReplicaSetSpec",
    "apps.ReplicaSetSpec 1:replicas:i! 4:minReadySeconds:i 2:selector:meta.LabelSelector "
    "3:template:core.PodTemplateSpec",
    "apps.RollingUpdateDaemonSet 1:maxUnavailable:x 2:maxSurge:x",
    "apps.RollingUpdateDeployment 1:maxUnavailable:x 2:maxSurge:x",
    "apps.RollingUpdateStatefulSetStrategy 1:partition:i! 2:maxUnavailable:x",
    "apps.StatefulSet 1:metadata:meta.ObjectMeta 2:spec:apps.StatefulSetSpec",
    "apps.StatefulSetOrdinals 1:start:i",
    "apps.StatefulSetPersistentVolumeClaimRetentionPolicy 1:whenDeleted:s 2:whenScaled:s",
    "apps.StatefulSetSpec 1:replicas:i! 2:selector:meta.LabelSelector "
    "3:template:core.PodTemplateSpec 4:volumeClaimTemplates:[core.PersistentVolumeClaim] "
    "5:serviceName:s 6:podManagementPolicy:s 7:updateStrategy:apps.StatefulSetUpdateStrategy "
    "8:revisionHistoryLimit:i! 9:minReadySeconds:i "
    "10:persistentVolumeClaimRetentionPolicy:apps.StatefulSetPersistentVolumeClaimRetentionPolicy "
    "11:ordinals:apps.StatefulSetOrdinals",
    "apps.StatefulSetUpdateStrategy 1:type:s "
    "2:rollingUpdate:apps.RollingUpdateStatefulSetStrategy",
    "asv1.CrossVersionObjectReference 1:kind:s 2:name:s 3:apiVersion:s",
    "asv1.HorizontalPodAutoscaler 1:metadata:meta.ObjectMeta "
    "2:spec:asv1.HorizontalPodAutoscalerSpec",
    "asv1.HorizontalPodAutoscalerSpec 1:scaleTargetRef:asv1.CrossVersionObjectReference "
    "2:minReplicas:i! 3:maxReplicas:i 4:targetCPUUtilizationPercentage:i!",
    "asv1.Scale 1:metadata:meta.ObjectMeta 2:spec:asv1.ScaleSpec",
    "asv1.ScaleSpec 1:replicas:i",
    "asv2.ContainerResourceMetricSource 1:name:s 2:target:asv2.MetricTarget 3:container:s",
    "asv2.CrossVersionObjectReference 1:kind:s 2:name:s 3:apiVersion:s",
    "asv2.ExternalMetricSource 1:metric:asv2.MetricIdentifier 2:target:asv2.MetricTarget",
    "asv2.HPAScalingPolicy 1:type:s 2:value:i 3:periodSeconds:i",
    "asv2.HPAScalingRules 3:stabilizationWindowSeconds:i! 1:selectPolicy:s! "
    "2:policies:[asv2.HPAScalingPolicy]",
    "asv2.HorizontalPodAutoscaler 1:metadata:meta.ObjectMeta "
    "2:spec:asv2.HorizontalPodAutoscalerSpec",
    "asv2.HorizontalPodAutoscalerBehavior 1:scaleUp:asv2.HPAScalingRules "
    "2:scaleDown:asv2.HPAScalingRules",
    "asv2.HorizontalPodAutoscalerSpec 1:scaleTargetRef:asv2.CrossVersionObjectReference "
    "2:minReplicas:i! 3:maxReplicas:i 4:metrics:[asv2.MetricSpec] "
    "5:behavior:asv2.HorizontalPodAutoscalerBehavior",
    "asv2.MetricIdentifier 1:name:s 2:selector:meta.LabelSelector",
    "asv2.MetricSpec 1:type:s 2:object:asv2.ObjectMetricSource 3:pods:asv2.PodsMetricSource "
    "4:resource:asv2.ResourceMetricSource "
    "7:containerResource:asv2.ContainerResourceMetricSource "
    "5:external:asv2.ExternalMetricSource",
    "asv2.MetricTarget 1:type:s 2:value:q 3:averageValue:q 4:averageUtilization:i!",
    "asv2.ObjectMetricSource 1:describedObject:asv2.CrossVersionObjectReference "
    "2:target:asv2.MetricTarget 3:metric:asv2.MetricIdentifier",
    "asv2.PodsMetricSource 1:metric:asv2.MetricIdentifier 2:target:asv2.MetricTarget",
    "asv2.ResourceMetricSource 1:name:s 2:target:asv2.MetricTarget",
    "authn.SelfSubjectReview 1:metadata:meta.ObjectMeta",
    "authz.ExtraValue 1:items:[s]",
    "authz.FieldSelectorAttributes 1:rawSelector:s "
    "2:requirements:[meta.FieldSelectorRequirement]",
    "authz.LabelSelectorAttributes 1:rawSelector:s "
    "2:requirements:[meta.LabelSelectorRequirement]",
    "authz.LocalSubjectAccessReview 1:metadata:meta.ObjectMeta "
    "2:spec:authz.SubjectAccessReviewSpec",
    "authz.NonResourceAttributes 1:path:s 2:verb:s",
    "authz.ResourceAttributes 1:namespace:s 2:verb:s 3:group:s 4:version:s 5:resource:s "
    "6:subresource:s 7:name:s 8:fieldSelector:authz.FieldSelectorAttributes "
    "9:labelSelector:authz.LabelSelectorAttributes",
    "authz.SelfSubjectAccessReview 1:metadata:meta.ObjectMeta "
    "2:spec:authz.SelfSubjectAccessReviewSpec",
    "authz.SelfSubjectAccessReviewSpec 1:resourceAttributes:authz.ResourceAttributes "
    "2:nonResourceAttributes:authz.NonResourceAttributes",
    "authz.SelfSubjectRulesReview 1:metadata:meta.ObjectMeta "
    "2:spec:authz.SelfSubjectRulesReviewSpec",
    "authz.SelfSubjectRulesReviewSpec 1:namespace:s",
    "authz.SubjectAccessReview 1:metadata:meta.ObjectMeta "
    "2:spec:authz.SubjectAccessReviewSpec",
    "authz.SubjectAccessReviewSpec 1:resourceAttributes:authz.ResourceAttributes "
    "2:nonResourceAttributes:authz.NonResourceAttributes 3:user:s 4:groups:[s] "
    "5:extra:{authz.ExtraValue} 6:uid:s",
    "batch.CronJob 1:metadata:meta.ObjectMeta 2:spec:batch.CronJobSpec",
    "batch.CronJobSpec 1:schedule:s 8:timeZone:s! 2:startingDeadlineSeconds:i! "
    "3:concurrencyPolicy:s 4:suspend:b! 5:jobTemplate:batch.JobTemplateSpec "
    "6:successfulJobsHistoryLimit:i! 7:failedJobsHistoryLimit:i!",
    "batch.Job 1:metadata:meta.ObjectMeta 2:spec:batch.JobSpec",
    "batch.JobSpec 1:parallelism:i! 2:completions:i! 3:activeDeadlineSeconds:i! "
    "11:podFailurePolicy:batch.PodFailurePolicy 16:successPolicy:batch.SuccessPolicy "
    "7:backoffLimit:i! 12:backoffLimitPerIndex:i! 13:maxFailedIndexes:i! "
    "4:selector:meta.LabelSelector 5:manualSelector:b! 6:template:core.PodTemplateSpec "
    "8:ttlSecondsAfterFinished:i! 9:completionMode:s! 10:suspend:b! "
    "14:podReplacementPolicy:s! 15:managedBy:s!",
    "batch.JobTemplateSpec 1:metadata:meta.ObjectMeta 2:spec:batch.JobSpec",
    "batch.PodFailurePolicy 1:rules:[batch.PodFailurePolicyRule]",
    "batch.PodFailurePolicyOnExitCodesRequirement 1:containerName:s! 2:operator:s "
    "3:values:[i]",
    "batch.PodFailurePolicyOnPodConditionsPattern 1:type:s 2:status:s",
    "batch.PodFailurePolicyRule 1:action:s "
    "2:onExitCodes:batch.PodFailurePolicyOnExitCodesRequirement "
    "3:onPodConditions:[batch.PodFailurePolicyOnPodConditionsPattern]",
    "batch.SuccessPolicy 1:rules:[batch.SuccessPolicyRule]",
    "batch.SuccessPolicyRule 1:succeededIndexes:s! 2:succeededCount:i!",
    "coord.Lease 1:metadata:meta.ObjectMeta 2:spec:coord.LeaseSpec",
    "coord.LeaseSpec 1:holderIdentity:s! 2:leaseDurationSeconds:i! 3:acquireTime:T "
    "4:renewTime:T 5:leaseTransitions:i! 6:strategy:s! 7:preferredHolder:s!",
    "core.AWSElasticBlockStoreVolumeSource 1:volumeID:s 2:fsType:s 3:partition:i 4:readOnly:b",
    "core.Affinity 1:nodeAffinity:core.NodeAffinity 2:podAffinity:core.PodAffinity "
    "3:podAntiAffinity:core.PodAntiAffinity",
    "core.AppArmorProfile 1:type:s 2:localhostProfile:s!",
    "core.AzureDiskVolumeSource 1:diskName:s 2:diskURI:s 3:cachingMode:s! 4:fsType:s! "
    "5:readOnly:b! 6:kind:s!",
    "core.AzureFilePersistentVolumeSource 1:secretName:s 2:shareName:s 3:readOnly:b "
    "4:secretNamespace:s!",
    "core.AzureFileVolumeSource 1:secretName:s 2:shareName:s 3:readOnly:b",
    "core.Binding 1:metadata:meta.ObjectMeta 2:target:core.ObjectReference",
    "core.CSIPersistentVolumeSource 1:driver:s 2:volumeHandle:s 3:readOnly:b 4:fsType:s "
    "5:volumeAttributes:{s} 6:controllerPublishSecretRef:core.SecretReference "
    "7:nodeStageSecretRef:core.SecretReference 8:nodePublishSecretRef:core.SecretReference "
    "9:controllerExpandSecretRef:core.SecretReference "
    "10:nodeExpandSecretRef:core.SecretReference",
    "core.CSIVolumeSource 1:driver:s 2:readOnly:b! 3:fsType:s! 4:volumeAttributes:{s} "
    "5:nodePublishSecretRef:core.LocalObjectReference",
    "core.Capabilities 1:add:[s] 2:drop:[s]",
    "core.CephFSPersistentVolumeSource 1:monitors:[s] 2:path:s 3:user:s 4:secretFile:s "
    "5:secretRef:core.SecretReference 6:readOnly:b",
    "core.CephFSVolumeSource 1:monitors:[s] 2:path:s 3:user:s 4:secretFile:s "
    "5:secretRef:core.LocalObjectReference 6:readOnly:b",
    "core.CinderPersistentVolumeSource 1:volumeID:s 2:fsType:s 3:readOnly:b "
    "4:secretRef:core.SecretReference",
    "core.CinderVolumeSource 1:volumeID:s 2:fsType:s 3:readOnly:b "
    "4:secretRef:core.LocalObjectReference",
    "core.ClientIPConfig 1:timeoutSeconds:i!",
    "core.ClusterTrustBundleProjection 1:name:s! 2:signerName:s! "
    "3:labelSelector:meta.LabelSelector 5:optional:b! 4:path:s",
    "core.ConfigMap 1:metadata:meta.ObjectMeta 4:immutable:b! 2:data:{s} 3:binaryData:{B}",
    "core.ConfigMapEnvSource 1:localObjectReference:core.LocalObjectReference 2:optional:b!",
    "core.ConfigMapKeySelector 1:localObjectReference:core.LocalObjectReference 2:key:s "
    "3:optional:b!",
    "core.ConfigMapNodeConfigSource 1:namespace:s 2:name:s 3:uid:s 4:resourceVersion:s "
    "5:kubeletConfigKey:s",
    "core.ConfigMapProjection 1:localObjectReference:core.LocalObjectReference "
    "2:items:[core.KeyToPath] 4:optional:b!",
    "core.ConfigMapVolumeSource 1:localObjectReference:core.LocalObjectReference "
    "2:items:[core.KeyToPath] 3:defaultMode:i! 4:optional:b!",
    "core.Container 1:name:s 2:image:s 3:command:[s] 4:args:[s] 5:workingDir:s "
    "6:ports:[core.ContainerPort] 19:envFrom:[core.EnvFromSource] 7:env:[core.EnvVar] "
    "8:resources:core.ResourceRequirements 23:resizePolicy:[core.ContainerResizePolicy] "
    "24:restartPolicy:s! 9:volumeMounts:[core.VolumeMount] "
    "21:volumeDevices:[core.VolumeDevice] 10:livenessProbe:core.Probe "
    "11:readinessProbe:core.Probe 22:startupProbe:core.Probe 12:lifecycle:core.Lifecycle "
    "13:terminationMessagePath:s 20:terminationMessagePolicy:s 14:imagePullPolicy:s "
    "15:securityContext:core.SecurityContext 16:stdin:b 17:stdinOnce:b 18:tty:b",
    "core.ContainerPort 1:name:s 2:hostPort:i 3:containerPort:i 4:protocol:s 5:hostIP:s",
    "core.ContainerResizePolicy 1:resourceName:s 2:restartPolicy:s",
    "core.DownwardAPIProjection 1:items:[core.DownwardAPIVolumeFile]",
    "core.DownwardAPIVolumeFile 1:path:s 2:fieldRef:core.ObjectFieldSelector "
    "3:resourceFieldRef:core.ResourceFieldSelector 4:mode:i!",
    "core.DownwardAPIVolumeSource 1:items:[core.DownwardAPIVolumeFile] 2:defaultMode:i!",
    "core.EmptyDirVolumeSource 1:medium:s 2:sizeLimit:q",
    "core.EndpointAddress 1:ip:s 3:hostname:s 4:nodeName:s! 2:targetRef:core.ObjectReference",
    "core.EndpointPort 1:name:s 2:port:i 3:protocol:s 4:appProtocol:s!",
    "core.EndpointSubset 1:addresses:[core.EndpointAddress] "
    "2:notReadyAddresses:[core.EndpointAddress] 3:ports:[core.EndpointPort]",
    "core.Endpoints 1:metadata:meta.ObjectMeta 2:subsets:[core.EndpointSubset]",
    "core.EnvFromSource 1:prefix:s 2:configMapRef:core.ConfigMapEnvSource "
    "3:secretRef:core.SecretEnvSource",
    "core.EnvVar 1:name:s 2:value:s 3:valueFrom:core.EnvVarSource",
    "core.EnvVarSource 1:fieldRef:core.ObjectFieldSelector "
    "2:resourceFieldRef:core.ResourceFieldSelector "
    "3:configMapKeyRef:core.ConfigMapKeySelector 4:secretKeyRef:core.SecretKeySelector",
    "core.EphemeralContainer 1:ephemeralContainerCommon:core.EphemeralContainerCommon "
    "2:targetContainerName:s",
    "core.EphemeralContainerCommon 1:name:s 2:image:s 3:command:[s] 4:args:[s] 5:workingDir:s "
    "6:ports:[core.ContainerPort] 19:envFrom:[core.EnvFromSource] 7:env:[core.EnvVar] "
    "8:resources:core.ResourceRequirements 23:resizePolicy:[core.ContainerResizePolicy] "
    "24:restartPolicy:s! 9:volumeMounts:[core.VolumeMount] "
    "21:volumeDevices:[core.VolumeDevice] 10:livenessProbe:core.Probe "
    "11:readinessProbe:core.Probe 22:startupProbe:core.Probe 12:lifecycle:core.Lifecycle "
    "13:terminationMessagePath:s 20:terminationMessagePolicy:s 14:imagePullPolicy:s "
    "15:securityContext:core.SecurityContext 16:stdin:b 17:stdinOnce:b 18:tty:b",
    "core.EphemeralVolumeSource 1:volumeClaimTemplate:core.PersistentVolumeClaimTemplate",
    "core.Event 1:metadata:meta.ObjectMeta 2:involvedObject:core.ObjectReference 3:reason:s "
    "4:message:s 5:source:core.EventSource 6:firstTimestamp:t 7:lastTimestamp:t 8:count:i "
    "9:type:s 10:eventTime:T 11:series:core.EventSeries 12:action:s "
    "13:related:core.ObjectReference 14:reportingComponent:s 15:reportingInstance:s",
    "core.EventSeries 1:count:i 2:lastObservedTime:T",
    "core.EventSource 1:component:s 2:host:s",
    "core.ExecAction 1:command:[s]",
    "core.FCVolumeSource 1:targetWWNs:[s] 2:lun:i! 3:fsType:s 4:readOnly:b 5:wwids:[s]",
    "core.FlexPersistentVolumeSource 1:driver:s 2:fsType:s 3:secretRef:core.SecretReference "
    "4:readOnly:b 5:options:{s}",
    "core.FlexVolumeSource 1:driver:s 2:fsType:s 3:secretRef:core.LocalObjectReference "
    "4:readOnly:b 5:options:{s}",
    "core.FlockerVolumeSource 1:datasetName:s 2:datasetUUID:s",
    "core.GCEPersistentDiskVolumeSource 1:pdName:s 2:fsType:s 3:partition:i 4:readOnly:b",
    "core.GRPCAction 1:port:i 2:service:s!",
    "core.GitRepoVolumeSource 1:repository:s 2:revision:s 3:directory:s",
    "core.GlusterfsPersistentVolumeSource 1:endpoints:s 2:path:s 3:readOnly:b "
    "4:endpointsNamespace:s!",
    "core.GlusterfsVolumeSource 1:endpoints:s 2:path:s 3:readOnly:b",
    "core.HTTPGetAction 1:path:s 2:port:x 3:host:s 4:scheme:s 5:httpHeaders:[core.HTTPHeader]",
    "core.HTTPHeader 1:name:s 2:value:s",
    "core.HostAlias 1:ip:s 2:hostnames:[s]",
    "core.HostPathVolumeSource 1:path:s 2:type:s!",
    "core.ISCSIPersistentVolumeSource 1:targetPortal:s 2:iqn:s 3:lun:i 4:iscsiInterface:s "
    "5:fsType:s 6:readOnly:b 7:portals:[s] 8:chapAuthDiscovery:b 11:chapAuthSession:b "
    "10:secretRef:core.SecretReference 12:initiatorName:s!",
    "core.ISCSIVolumeSource 1:targetPortal:s 2:iqn:s 3:lun:i 4:iscsiInterface:s 5:fsType:s "
    "6:readOnly:b 7:portals:[s] 8:chapAuthDiscovery:b 11:chapAuthSession:b "
    "10:secretRef:core.LocalObjectReference 12:initiatorName:s!",
    "core.ImageVolumeSource 1:reference:s 2:pullPolicy:s",
    "core.KeyToPath 1:key:s 2:path:s 3:mode:i!",
    "core.Lifecycle 1:postStart:core.LifecycleHandler 2:preStop:core.LifecycleHandler",
    "core.LifecycleHandler 1:exec:core.ExecAction 2:httpGet:core.HTTPGetAction "
    "3:tcpSocket:core.TCPSocketAction 4:sleep:core.SleepAction",
    "core.LimitRange 1:metadata:meta.ObjectMeta 2:spec:core.LimitRangeSpec",
    "core.LimitRangeItem 1:type:s 2:max:{q} 3:min:{q} 4:default:{q} 5:defaultRequest:{q} "
    "6:maxLimitRequestRatio:{q}",
    "core.LimitRangeSpec 1:limits:[core.LimitRangeItem]",
    "core.LocalObjectReference 1:name:s",
    "core.LocalVolumeSource 1:path:s 2:fsType:s!",
    "core.NFSVolumeSource 1:server:s 2:path:s 3:readOnly:b",
    "core.Namespace 1:metadata:meta.ObjectMeta 2:spec:core.NamespaceSpec",
    "core.NamespaceSpec 1:finalizers:[s]",
    "core.Node 1:metadata:meta.ObjectMeta 2:spec:core.NodeSpec",
    "core.NodeAffinity 1:requiredDuringSchedulingIgnoredDuringExecution:core.NodeSelector "
    "2:preferredDuringSchedulingIgnoredDuringExecution:[core.PreferredSchedulingTerm]",
    "core.NodeConfigSource 2:configMap:core.ConfigMapNodeConfigSource",
    "core.NodeSelector 1:nodeSelectorTerms:[core.NodeSelectorTerm]",
    "core.NodeSelectorRequirement 1:key:s 2:operator:s 3:values:[s]",
    "core.NodeSelectorTerm 1:matchExpressions:[core.NodeSelectorRequirement] "
    "2:matchFields:[core.NodeSelectorRequirement]",
    "core.NodeSpec 1:podCIDR:s 7:podCIDRs:[s] 3:providerID:s 4:unschedulable:b "
    "5:taints:[core.Taint] 6:configSource:core.NodeConfigSource 2:externalID:s",
    "core.ObjectFieldSelector 1:apiVersion:s 2:fieldPath:s",
    "core.ObjectReference 1:kind:s 2:namespace:s 3:name:s 4:uid:s 5:apiVersion:s "
    "6:resourceVersion:s 7:fieldPath:s",
    "core.PersistentVolume 1:metadata:meta.ObjectMeta 2:spec:core.PersistentVolumeSpec",
    "core.PersistentVolumeClaim 1:metadata:meta.ObjectMeta "
    "2:spec:core.PersistentVolumeClaimSpec",
    "core.PersistentVolumeClaimSpec 1:accessModes:[s] 4:selector:meta.LabelSelector "
    "2:resources:core.VolumeResourceRequirements 3:volumeName:s 5:storageClassName:s! "
    "6:volumeMode:s! 7:dataSource:core.TypedLocalObjectReference "
    "8:dataSourceRef:core.TypedObjectReference 9:volumeAttributesClassName:s!",
    "core.PersistentVolumeClaimTemplate 1:metadata:meta.ObjectMeta "
    "2:spec:core.PersistentVolumeClaimSpec",
    "core.PersistentVolumeClaimVolumeSource 1:claimName:s 2:readOnly:b",
    "core.PersistentVolumeSource 1:gcePersistentDisk:core.GCEPersistentDiskVolumeSource "
    "2:awsElasticBlockStore:core.AWSElasticBlockStoreVolumeSource "
    "3:hostPath:core.HostPathVolumeSource 4:glusterfs:core.GlusterfsPersistentVolumeSource "
    "5:nfs:core.NFSVolumeSource 6:rbd:core.RBDPersistentVolumeSource "
    "7:iscsi:core.ISCSIPersistentVolumeSource 8:cinder:core.CinderPersistentVolumeSource "
    "9:cephfs:core.CephFSPersistentVolumeSource 10:fc:core.FCVolumeSource "
    "11:flocker:core.FlockerVolumeSource 12:flexVolume:core.FlexPersistentVolumeSource "
    "13:azureFile:core.AzureFilePersistentVolumeSource "
    "14:vsphereVolume:core.VsphereVirtualDiskVolumeSource 15:quobyte:core.QuobyteVolumeSource "
    "16:azureDisk:core.AzureDiskVolumeSource "
    "17:photonPersistentDisk:core.PhotonPersistentDiskVolumeSource "
    "18:portworxVolume:core.PortworxVolumeSource "
    "19:scaleIO:core.ScaleIOPersistentVolumeSource 20:local:core.LocalVolumeSource "
    "21:storageos:core.StorageOSPersistentVolumeSource 22:csi:core.CSIPersistentVolumeSource",
    "core.PersistentVolumeSpec 1:capacity:{q} "
    "2:persistentVolumeSource:core.PersistentVolumeSource 3:accessModes:[s] "
    "4:claimRef:core.ObjectReference 5:persistentVolumeReclaimPolicy:s 6:storageClassName:s "
    "7:mountOptions:[s] 8:volumeMode:s! 9:nodeAffinity:core.VolumeNodeAffinity "
    "10:volumeAttributesClassName:s!",
    "core.PhotonPersistentDiskVolumeSource 1:pdID:s 2:fsType:s",
    "core.Pod 1:metadata:meta.ObjectMeta 2:spec:core.PodSpec",
    "core.PodAffinity 1:requiredDuringSchedulingIgnoredDuringExecution:[core.PodAffinityTerm] "
    "2:preferredDuringSchedulingIgnoredDuringExecution:[core.WeightedPodAffinityTerm]",
    "core.PodAffinityTerm 1:labelSelector:meta.LabelSelector 2:namespaces:[s] 3:topologyKey:s "
    "4:namespaceSelector:meta.LabelSelector 5:matchLabelKeys:[s] 6:mismatchLabelKeys:[s]",
    "core.PodAntiAffinity "
    "1:requiredDuringSchedulingIgnoredDuringExecution:[core.PodAffinityTerm] "
    "2:preferredDuringSchedulingIgnoredDuringExecution:[core.WeightedPodAffinityTerm]",
    "core.PodDNSConfig 1:nameservers:[s] 2:searches:[s] 3:options:[core.PodDNSConfigOption]",
    "core.PodDNSConfigOption 1:name:s 2:value:s!",
    "core.PodOS 1:name:s",
    "core.PodReadinessGate 1:conditionType:s",
    "core.PodResourceClaim 1:name:s 3:resourceClaimName:s! 4:resourceClaimTemplateName:s!",
    "core.PodSchedulingGate 1:name:s",
    "core.PodSecurityContext 1:seLinuxOptions:core.SELinuxOptions "
    "8:windowsOptions:core.WindowsSecurityContextOptions 2:runAsUser:i! 6:runAsGroup:i! "
    "3:runAsNonRoot:b! 4:supplementalGroups:[i] 12:supplementalGroupsPolicy:s! 5:fsGroup:i! "
    "7:sysctls:[core.Sysctl] 9:fsGroupChangePolicy:s! 10:seccompProfile:core.SeccompProfile "
    "11:appArmorProfile:core.AppArmorProfile 13:seLinuxChangePolicy:s!",
    "core.PodSpec 1:volumes:[core.Volume] 20:initContainers:[core.Container] "
    "2:containers:[core.Container] 34:ephemeralContainers:[core.EphemeralContainer] "
    "3:restartPolicy:s 4:terminationGracePeriodSeconds:i! 5:activeDeadlineSeconds:i! "
    "6:dnsPolicy:s 7:nodeSelector:{s} 8:serviceAccountName:s 9:serviceAccount:s "
    "21:automountServiceAccountToken:b! 10:nodeName:s 11:hostNetwork:b 12:hostPID:b "
    "13:hostIPC:b 27:shareProcessNamespace:b! 14:securityContext:core.PodSecurityContext "
    "15:imagePullSecrets:[core.LocalObjectReference] 16:hostname:s 17:subdomain:s "
    "18:affinity:core.Affinity 19:schedulerName:s 22:tolerations:[core.Toleration] "
    "23:hostAliases:[core.HostAlias] 24:priorityClassName:s 25:priority:i! "
    "26:dnsConfig:core.PodDNSConfig 28:readinessGates:[core.PodReadinessGate] "
    "29:runtimeClassName:s! 30:enableServiceLinks:b! 31:preemptionPolicy:s! 32:overhead:{q} "
    "33:topologySpreadConstraints:[core.TopologySpreadConstraint] 35:setHostnameAsFQDN:b! "
    "36:os:core.PodOS 37:hostUsers:b! 38:schedulingGates:[core.PodSchedulingGate] "
    "39:resourceClaims:[core.PodResourceClaim] 40:resources:core.ResourceRequirements",
    "core.PodTemplate 1:metadata:meta.ObjectMeta 2:template:core.PodTemplateSpec",
    "core.PodTemplateSpec 1:metadata:meta.ObjectMeta 2:spec:core.PodSpec",
    "core.PortworxVolumeSource 1:volumeID:s 2:fsType:s 3:readOnly:b",
    "core.PreferredSchedulingTerm 1:weight:i 2:preference:core.NodeSelectorTerm",
    "core.Probe 1:handler:core.ProbeHandler 2:initialDelaySeconds:i 3:timeoutSeconds:i "
    "4:periodSeconds:i 5:successThreshold:i 6:failureThreshold:i "
    "7:terminationGracePeriodSeconds:i!",
    "core.ProbeHandler 1:exec:core.ExecAction 2:httpGet:core.HTTPGetAction "
    "3:tcpSocket:core.TCPSocketAction 4:grpc:core.GRPCAction",
    "core.ProjectedVolumeSource 1:sources:[core.VolumeProjection] 2:defaultMode:i!",
    "core.QuobyteVolumeSource 1:registry:s 2:volume:s 3:readOnly:b 4:user:s 5:group:s "
    "6:tenant:s",
    "core.RBDPersistentVolumeSource 1:monitors:[s] 2:image:s 3:fsType:s 4:pool:s 5:user:s "
    "6:keyring:s 7:secretRef:core.SecretReference 8:readOnly:b",
    "core.RBDVolumeSource 1:monitors:[s] 2:image:s 3:fsType:s 4:pool:s 5:user:s 6:keyring:s "
    "7:secretRef:core.LocalObjectReference 8:readOnly:b",
    "core.ResourceClaim 1:name:s 2:request:s",
    "core.ResourceFieldSelector 1:containerName:s 2:resource:s 3:divisor:q",
    "core.ResourceQuota 1:metadata:meta.ObjectMeta 2:spec:core.ResourceQuotaSpec",
    "core.ResourceQuotaSpec 1:hard:{q} 2:scopes:[s] 3:scopeSelector:core.ScopeSelector",
    "core.ResourceRequirements 1:limits:{q} 2:requests:{q} 3:claims:[core.ResourceClaim]",
    "core.SELinuxOptions 1:user:s 2:role:s 3:type:s 4:level:s",
    "core.ScaleIOPersistentVolumeSource 1:gateway:s 2:system:s "
    "3:secretRef:core.SecretReference 4:sslEnabled:b 5:protectionDomain:s 6:storagePool:s "
    "7:storageMode:s 8:volumeName:s 9:fsType:s 10:readOnly:b",
    "core.ScaleIOVolumeSource 1:gateway:s 2:system:s 3:secretRef:core.LocalObjectReference "
    "4:sslEnabled:b 5:protectionDomain:s 6:storagePool:s 7:storageMode:s 8:volumeName:s "
    "9:fsType:s 10:readOnly:b",
    "core.ScopeSelector 1:matchExpressions:[core.ScopedResourceSelectorRequirement]",
    "core.ScopedResourceSelectorRequirement 1:scopeName:s 2:operator:s 3:values:[s]",
    "core.SeccompProfile 1:type:s 2:localhostProfile:s!",
    "core.Secret 1:metadata:meta.ObjectMeta 5:immutable:b! 2:data:{B} 4:stringData:{s} "
    "3:type:s",
    "core.SecretEnvSource 1:localObjectReference:core.LocalObjectReference 2:optional:b!",
    "core.SecretKeySelector 1:localObjectReference:core.LocalObjectReference 2:key:s "
    "3:optional:b!",
    "core.SecretProjection 1:localObjectReference:core.LocalObjectReference "
    "2:items:[core.KeyToPath] 4:optional:b!",
    "core.SecretReference 1:name:s 2:namespace:s",
    "core.SecretVolumeSource 1:secretName:s 2:items:[core.KeyToPath] 3:defaultMode:i! "
    "4:optional:b!",
    "core.SecurityContext 1:capabilities:core.Capabilities 2:privileged:b! "
    "3:seLinuxOptions:core.SELinuxOptions "
    "10:windowsOptions:core.WindowsSecurityContextOptions 4:runAsUser:i! 8:runAsGroup:i! "
    "5:runAsNonRoot:b! 6:readOnlyRootFilesystem:b! 7:allowPrivilegeEscalation:b! "
    "9:procMount:s! 11:seccompProfile:core.SeccompProfile "
    "12:appArmorProfile:core.AppArmorProfile",
    "core.Service 1:metadata:meta.ObjectMeta 2:spec:core.ServiceSpec",
    "core.ServiceAccount 1:metadata:meta.ObjectMeta 2:secrets:[core.ObjectReference] "
    "3:imagePullSecrets:[core.LocalObjectReference] 4:automountServiceAccountToken:b!",
    "core.ServiceAccountTokenProjection 1:audience:s 2:expirationSeconds:i! 3:path:s",
    "core.ServicePort 1:name:s 2:protocol:s 6:appProtocol:s! 3:port:i 4:targetPort:x "
    "5:nodePort:i",
    "core.ServiceSpec 1:ports:[core.ServicePort] 2:selector:{s} 3:clusterIP:s "
    "18:clusterIPs:[s] 4:type:s 5:externalIPs:[s] 7:sessionAffinity:s 8:loadBalancerIP:s "
    "9:loadBalancerSourceRanges:[s] 10:externalName:s 11:externalTrafficPolicy:s "
    "12:healthCheckNodePort:i 13:publishNotReadyAddresses:b "
    "14:sessionAffinityConfig:core.SessionAffinityConfig 19:ipFamilies:[s] "
    "17:ipFamilyPolicy:s! 20:allocateLoadBalancerNodePorts:b! 21:loadBalancerClass:s! "
    "22:internalTrafficPolicy:s! 23:trafficDistribution:s!",
    "core.SessionAffinityConfig 1:clientIP:core.ClientIPConfig",
    "core.SleepAction 1:seconds:i",
    "core.StorageOSPersistentVolumeSource 1:volumeName:s 2:volumeNamespace:s 3:fsType:s "
    "4:readOnly:b 5:secretRef:core.ObjectReference",
    "core.StorageOSVolumeSource 1:volumeName:s 2:volumeNamespace:s 3:fsType:s 4:readOnly:b "
    "5:secretRef:core.LocalObjectReference",
    "core.Sysctl 1:name:s 2:value:s",
    "core.TCPSocketAction 1:port:x 2:host:s",
    "core.Taint 1:key:s 2:value:s 3:effect:s 4:timeAdded:t",
    "core.Toleration 1:key:s 2:operator:s 3:value:s 4:effect:s 5:tolerationSeconds:i!",
    "core.TopologySpreadConstraint 1:maxSkew:i 2:topologyKey:s 3:whenUnsatisfiable:s "
    "4:labelSelector:meta.LabelSelector 5:minDomains:i! 6:nodeAffinityPolicy:s! "
    "7:nodeTaintsPolicy:s! 8:matchLabelKeys:[s]",
    "core.TypedLocalObjectReference 1:apiGroup:s! 2:kind:s 3:name:s",
    "core.TypedObjectReference 1:apiGroup:s! 2:kind:s 3:name:s 4:namespace:s!",
    "core.Volume 1:name:s 2:volumeSource:core.VolumeSource",
    "core.VolumeDevice 1:name:s 2:devicePath:s",
    "core.VolumeMount 1:name:s 2:readOnly:b 7:recursiveReadOnly:s! 3:mountPath:s 4:subPath:s "
    "5:mountPropagation:s! 6:subPathExpr:s",
    "core.VolumeNodeAffinity 1:required:core.NodeSelector",
    "core.VolumeProjection 1:secret:core.SecretProjection "
    "2:downwardAPI:core.DownwardAPIProjection 3:configMap:core.ConfigMapProjection "
    "4:serviceAccountToken:core.ServiceAccountTokenProjection "
    "5:clusterTrustBundle:core.ClusterTrustBundleProjection",
    "core.VolumeResourceRequirements 1:limits:{q} 2:requests:{q}",
    "core.VolumeSource 1:hostPath:core.HostPathVolumeSource "
    "2:emptyDir:core.EmptyDirVolumeSource "
    "3:gcePersistentDisk:core.GCEPersistentDiskVolumeSource "
    "4:awsElasticBlockStore:core.AWSElasticBlockStoreVolumeSource "
    "5:gitRepo:core.GitRepoVolumeSource 6:secret:core.SecretVolumeSource "
    "7:nfs:core.NFSVolumeSource 8:iscsi:core.ISCSIVolumeSource "
    "9:glusterfs:core.GlusterfsVolumeSource "
    "10:persistentVolumeClaim:core.PersistentVolumeClaimVolumeSource "
    "11:rbd:core.RBDVolumeSource 12:flexVolume:core.FlexVolumeSource "
    "13:cinder:core.CinderVolumeSource 14:cephfs:core.CephFSVolumeSource "
    "15:flocker:core.FlockerVolumeSource 16:downwardAPI:core.DownwardAPIVolumeSource "
    "17:fc:core.FCVolumeSource 18:azureFile:core.AzureFileVolumeSource "
    "19:configMap:core.ConfigMapVolumeSource "
    "20:vsphereVolume:core.VsphereVirtualDiskVolumeSource 21:quobyte:core.QuobyteVolumeSource "
    "22:azureDisk:core.AzureDiskVolumeSource "
    "23:photonPersistentDisk:core.PhotonPersistentDiskVolumeSource "
    "26:projected:core.ProjectedVolumeSource 24:portworxVolume:core.PortworxVolumeSource "
    "25:scaleIO:core.ScaleIOVolumeSource 27:storageos:core.StorageOSVolumeSource "
    "28:csi:core.CSIVolumeSource 29:ephemeral:core.EphemeralVolumeSource "
    "30:image:core.ImageVolumeSource",
    "core.VsphereVirtualDiskVolumeSource 1:volumePath:s 2:fsType:s 3:storagePolicyName:s "
    "4:storagePolicyID:s",
    "core.WeightedPodAffinityTerm 1:weight:i 2:podAffinityTerm:core.PodAffinityTerm",
    "core.WindowsSecurityContextOptions 1:gmsaCredentialSpecName:s! 2:gmsaCredentialSpec:s! "
    "3:runAsUserName:s! 4:hostProcess:b!",
    "disc.Endpoint 1:addresses:[s] 2:conditions:disc.EndpointConditions 3:hostname:s! "
    "4:targetRef:core.ObjectReference 5:deprecatedTopology:{s} 6:nodeName:s! 7:zone:s! "
    "8:hints:disc.EndpointHints",
    "disc.EndpointConditions 1:ready:b! 2:serving:b! 3:terminating:b!",
    "disc.EndpointHints 1:forZones:[disc.ForZone]",
    "disc.EndpointPort 1:name:s! 2:protocol:s! 3:port:i! 4:appProtocol:s!",
    "disc.EndpointSlice 1:metadata:meta.ObjectMeta 4:addressType:s "
    "2:endpoints:[disc.Endpoint] 3:ports:[disc.EndpointPort]",
    "disc.ForZone 1:name:s",
    "meta.DeleteOptions 1:gracePeriodSeconds:i! 2:preconditions:meta.Preconditions "
    "3:orphanDependents:b! 4:propagationPolicy:s! 5:dryRun:[s] "
    "6:ignoreStoreReadErrorWithClusterBreakingPotential:b!",
    "meta.FieldSelectorRequirement 1:key:s 2:operator:s 3:values:[s]",
    "meta.LabelSelector 1:matchLabels:{s} 2:matchExpressions:[meta.LabelSelectorRequirement]",
    "meta.LabelSelectorRequirement 1:key:s 2:operator:s 3:values:[s]",
    "meta.ObjectMeta 1:name:s 2:generateName:s 3:namespace:s 4:selfLink:s 5:uid:s "
    "6:resourceVersion:s 7:generation:i 8:creationTimestamp:t 9:deletionTimestamp:t "
    "10:deletionGracePeriodSeconds:i! 11:labels:{s} 12:annotations:{s} "
    "13:ownerReferences:[meta.OwnerReference] 14:finalizers:[s]",
    "meta.OwnerReference 5:apiVersion:s 1:kind:s 3:name:s 4:uid:s 6:controller:b! "
    "7:blockOwnerDeletion:b!",
    "meta.Preconditions 1:uid:s! 2:resourceVersion:s!",
    "net.HTTPIngressPath 1:path:s 3:pathType:s! 2:backend:net.IngressBackend",
    "net.HTTPIngressRuleValue 1:paths:[net.HTTPIngressPath]",
    "net.IPBlock 1:cidr:s 2:except:[s]",
    "net.Ingress 1:metadata:meta.ObjectMeta 2:spec:net.IngressSpec",
    "net.IngressBackend 4:service:net.IngressServiceBackend "
    "3:resource:core.TypedLocalObjectReference",
    "net.IngressRule 1:host:s 2:ingressRuleValue:net.IngressRuleValue",
    "net.IngressRuleValue 1:http:net.HTTPIngressRuleValue",
    "net.IngressServiceBackend 1:name:s 2:port:net.ServiceBackendPort",
    "net.IngressSpec 4:ingressClassName:s! 1:defaultBackend:net.IngressBackend "
    "2:tls:[net.IngressTLS] 3:rules:[net.IngressRule]",
    "net.IngressTLS 1:hosts:[s] 2:secretName:s",
    "net.NetworkPolicy 1:metadata:meta.ObjectMeta 2:spec:net.NetworkPolicySpec",
    "net.NetworkPolicyEgressRule 1:ports:[net.NetworkPolicyPort] 2:to:[net.NetworkPolicyPeer]",
    "net.NetworkPolicyIngressRule 1:ports:[net.NetworkPolicyPort] "
    "2:from:[net.NetworkPolicyPeer]",
    "net.NetworkPolicyPeer 1:podSelector:meta.LabelSelector "
    "2:namespaceSelector:meta.LabelSelector 3:ipBlock:net.IPBlock",
    "net.NetworkPolicyPort 1:protocol:s! 2:port:x 3:endPort:i!",
    "net.NetworkPolicySpec 1:podSelector:meta.LabelSelector "
    "2:ingress:[net.NetworkPolicyIngressRule] 3:egress:[net.NetworkPolicyEgressRule] "
    "4:policyTypes:[s]",
    "net.ServiceBackendPort 1:name:s 2:number:i",
    "policy.Eviction 1:metadata:meta.ObjectMeta 2:deleteOptions:meta.DeleteOptions",
    "policy.PodDisruptionBudget 1:metadata:meta.ObjectMeta "
    "2:spec:policy.PodDisruptionBudgetSpec",
    "policy.PodDisruptionBudgetSpec 1:minAvailable:x 2:selector:meta.LabelSelector "
    "3:maxUnavailable:x 4:unhealthyPodEvictionPolicy:s!",
    "rbac.AggregationRule 1:clusterRoleSelectors:[meta.LabelSelector]",
    "rbac.ClusterRole 1:metadata:meta.ObjectMeta 2:rules:[rbac.PolicyRule] "
    "3:aggregationRule:rbac.AggregationRule",
    "rbac.ClusterRoleBinding 1:metadata:meta.ObjectMeta 2:subjects:[rbac.Subject] "
    "3:roleRef:rbac.RoleRef",
    "rbac.PolicyRule 1:verbs:[s] 2:apiGroups:[s] 3:resources:[s] 4:resourceNames:[s] "
    "5:nonResourceURLs:[s]",
    "rbac.Role 1:metadata:meta.ObjectMeta 2:rules:[rbac.PolicyRule]",
    "rbac.RoleBinding 1:metadata:meta.ObjectMeta 2:subjects:[rbac.Subject] "
    "3:roleRef:rbac.RoleRef",
    "rbac.RoleRef 1:apiGroup:s 2:kind:s 3:name:s",
    "rbac.Subject 1:kind:s 2:apiGroup:s 3:name:s 4:namespace:s",
};

const size_t proto_n_defs = sizeof(proto_defs) / sizeof(proto_defs[0]);
