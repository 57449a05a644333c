// manifestcheck validates the output of `helm template` offline, as a Kubernetes API server
// would before storing it:
//
//   - every document's kind is served by Kubernetes 1.37 (client-go v0.37.2's scheme) or is a
//     Prometheus Operator resource (monitoring.coreos.com/v1);
//   - it decodes strictly into its Go type (no unknown or duplicate field, no wrong type) and,
//     for built-in kinds, validates against the OpenAPI-derived schema the API server uses for
//     server-side apply;
//   - the checks of the API server's validation that charts most often fail: names and labels,
//     selectors that match the pod template, probe and Service ports that name a container
//     port, env var names, volume mounts of declared volumes, requests within limits;
//   - the references between the documents: the Service, PodDisruptionBudget and
//     ServiceMonitor select the Deployment's pods, the autoscaler scales a rendered
//     Deployment, ConfigMaps and ServiceAccounts named by pods are rendered, and a pre-install
//     hook does not use anything the release creates only after its hooks.
//
// Secrets are referenced, not rendered: their names are printed for the reader.
//
//	manifestcheck [--rules-dir DIR] RENDERED.yaml...
//
// With --rules-dir, the spec of each PrometheusRule is written there as a Prometheus rules file,
// so that promtool checks the rules exactly as the chart ships them.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// document is one rendered object with where it came from.
type document struct {
	source string // "file.yaml#3 (Deployment rel-sagad)"
	kind   string
	name   string
	hook   string // the helm.sh/hook annotation, if any
	object runtime.Object
}

type checker struct {
	decoder   runtime.Decoder
	converter managedfields.TypeConverter
	docs      []document
	problems  []string
}

func (c *checker) fail(doc *document, format string, args ...any) {
	c.problems = append(c.problems, doc.source+": "+fmt.Sprintf(format, args...))
}

func newChecker() *checker {
	all := runtime.NewScheme()
	if err := scheme.AddToScheme(all); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(all); err != nil {
		panic(err)
	}
	return &checker{
		decoder:   serializer.NewCodecFactory(all, serializer.EnableStrict).UniversalDeserializer(),
		converter: applyconfigurations.NewTypeConverter(scheme.Scheme),
	}
}

// read splits a rendered file into documents and decodes each one strictly.
func (c *checker) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for index := 1; ; index++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		c.decode(fmt.Sprintf("%s#%d", filepath.Base(path), index), raw)
	}
}

func (c *checker) decode(source string, raw []byte) {
	doc := document{source: source}
	var generic map[string]any
	if err := yaml.UnmarshalStrict(raw, &generic); err != nil { // strict: a key twice is an error
		c.fail(&doc, "not YAML: %v", err)
		return
	}
	if len(generic) == 0 {
		return // only comments
	}
	u := &unstructured.Unstructured{Object: generic}
	doc.kind, doc.name = u.GetKind(), u.GetName()
	doc.hook = u.GetAnnotations()["helm.sh/hook"]
	doc.source = fmt.Sprintf("%s (%s %s)", source, doc.kind, doc.name)
	if u.GetAPIVersion() == "" || doc.kind == "" {
		c.fail(&doc, "apiVersion and kind are required")
		return
	}
	json, err := yaml.YAMLToJSON(raw)
	if err != nil {
		c.fail(&doc, "not convertible to JSON: %v", err)
		return
	}
	object, gvk, err := c.decoder.Decode(json, nil, nil)
	if err != nil {
		c.fail(&doc, "%v", err)
		return
	}
	doc.object = object
	if scheme.Scheme.Recognizes(*gvk) {
		if _, err := c.converter.ObjectToTyped(u); err != nil {
			c.fail(&doc, "schema: %v", err)
		}
	}
	c.docs = append(c.docs, doc)
}

func (c *checker) find(kind, name string) *document {
	for i := range c.docs {
		if c.docs[i].kind == kind && c.docs[i].name == name {
			return &c.docs[i]
		}
	}
	return nil
}

// podTemplates returns the pod templates of the workloads, keyed by their document.
func (c *checker) podTemplates() map[*document]*corev1.PodTemplateSpec {
	templates := map[*document]*corev1.PodTemplateSpec{}
	for i := range c.docs {
		switch o := c.docs[i].object.(type) {
		case *appsv1.Deployment:
			templates[&c.docs[i]] = &o.Spec.Template
		case *batchv1.Job:
			templates[&c.docs[i]] = &o.Spec.Template
		}
	}
	return templates
}

func (c *checker) checkMetadata(doc *document) {
	accessor, ok := doc.object.(interface {
		GetName() string
		GetLabels() map[string]string
		GetAnnotations() map[string]string
	})
	if !ok {
		return
	}
	nameErrors := validation.IsDNS1123Subdomain(accessor.GetName())
	if doc.kind == "Service" {
		nameErrors = validation.IsDNS1035Label(accessor.GetName())
	}
	for _, e := range nameErrors {
		c.fail(doc, "metadata.name %q: %s", accessor.GetName(), e)
	}
	c.checkLabels(doc, "metadata.labels", accessor.GetLabels())
	for key := range accessor.GetAnnotations() {
		for _, e := range validation.IsQualifiedName(key) {
			c.fail(doc, "annotation key %q: %s", key, e)
		}
	}
}

func (c *checker) checkLabels(doc *document, where string, set map[string]string) {
	for key, value := range set {
		for _, e := range validation.IsQualifiedName(key) {
			c.fail(doc, "%s key %q: %s", where, key, e)
		}
		for _, e := range validation.IsValidLabelValue(value) {
			c.fail(doc, "%s[%q] value %q: %s", where, key, value, e)
		}
	}
}

func (c *checker) checkPod(doc *document, template *corev1.PodTemplateSpec) {
	c.checkLabels(doc, "pod template labels", template.Labels)
	spec := &template.Spec
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		for _, e := range validation.IsDNS1123Label(v.Name) {
			c.fail(doc, "volume %q: %s", v.Name, e)
		}
		if volumes[v.Name] {
			c.fail(doc, "volume %q declared twice", v.Name)
		}
		volumes[v.Name] = true
		if v.ConfigMap != nil && c.find("ConfigMap", v.ConfigMap.Name) == nil {
			c.fail(doc, "volume %q mounts ConfigMap %q, which the chart does not render", v.Name, v.ConfigMap.Name)
		}
	}
	if len(spec.Containers) == 0 {
		c.fail(doc, "a pod needs at least one container")
	}
	if _, isJob := doc.object.(*batchv1.Job); isJob {
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			c.fail(doc, "a Job's restartPolicy must be Never or OnFailure, not %q", spec.RestartPolicy)
		}
	}
	account := spec.ServiceAccountName
	if account != "" && account != "default" && c.find("ServiceAccount", account) == nil {
		c.fail(doc, "serviceAccountName %q is not rendered by the chart", account)
	} else if account != "" && account != "default" && doc.hook != "" {
		c.fail(doc, "a %s hook runs before the release's ServiceAccount %q exists", doc.hook, account)
	}
	names := map[string]bool{}
	for i := range spec.Containers {
		container := &spec.Containers[i]
		where := "container " + container.Name
		for _, e := range validation.IsDNS1123Label(container.Name) {
			c.fail(doc, "%s: name: %s", where, e)
		}
		if names[container.Name] {
			c.fail(doc, "%s: declared twice", where)
		}
		names[container.Name] = true
		if container.Image == "" {
			c.fail(doc, "%s: image is required", where)
		}
		ports := map[string]bool{}
		for _, p := range container.Ports {
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				c.fail(doc, "%s: containerPort %d out of 1-65535", where, p.ContainerPort)
			}
			if p.Name != "" {
				for _, e := range validation.IsValidPortName(p.Name) {
					c.fail(doc, "%s: port name %q: %s", where, p.Name, e)
				}
				if ports[p.Name] {
					c.fail(doc, "%s: port name %q used twice", where, p.Name)
				}
				ports[p.Name] = true
			}
		}
		probes := map[string]*corev1.Probe{"livenessProbe": container.LivenessProbe,
			"readinessProbe": container.ReadinessProbe, "startupProbe": container.StartupProbe}
		for probeName, probe := range probes {
			if probe == nil {
				continue
			}
			if probe.HTTPGet == nil && probe.TCPSocket == nil && probe.GRPC == nil && probe.Exec == nil {
				c.fail(doc, "%s: %s has no handler", where, probeName)
			}
			if probe.HTTPGet != nil {
				c.checkPortReference(doc, where+": "+probeName, probe.HTTPGet.Port, container.Ports)
				if !strings.HasPrefix(probe.HTTPGet.Path, "/") {
					c.fail(doc, "%s: %s path %q must start with /", where, probeName, probe.HTTPGet.Path)
				}
			}
		}
		for _, env := range container.Env {
			for _, e := range validation.IsEnvVarName(env.Name) {
				c.fail(doc, "%s: env %q: %s", where, env.Name, e)
			}
			if env.Value != "" && env.ValueFrom != nil {
				c.fail(doc, "%s: env %q has both value and valueFrom", where, env.Name)
			}
			if from := env.ValueFrom; from != nil {
				if from.ConfigMapKeyRef != nil && c.find("ConfigMap", from.ConfigMapKeyRef.Name) == nil {
					c.fail(doc, "%s: env %q reads ConfigMap %q, which the chart does not render", where, env.Name, from.ConfigMapKeyRef.Name)
				}
				if from.SecretKeyRef != nil && from.SecretKeyRef.Key == "" {
					c.fail(doc, "%s: env %q: secretKeyRef needs a key", where, env.Name)
				}
			}
		}
		for _, from := range container.EnvFrom {
			if ref := from.ConfigMapRef; ref != nil {
				if c.find("ConfigMap", ref.Name) == nil {
					c.fail(doc, "%s: envFrom ConfigMap %q is not rendered by the chart", where, ref.Name)
				} else if doc.hook != "" {
					c.fail(doc, "%s: a %s hook runs before the release's ConfigMap %q exists", where, doc.hook, ref.Name)
				}
			}
		}
		mounts := map[string]bool{}
		for _, m := range container.VolumeMounts {
			if !volumes[m.Name] {
				c.fail(doc, "%s: volumeMount %q names no volume of the pod", where, m.Name)
			}
			if mounts[m.MountPath] {
				c.fail(doc, "%s: mountPath %q used twice", where, m.MountPath)
			}
			mounts[m.MountPath] = true
		}
		for resource, limit := range container.Resources.Limits {
			if request, ok := container.Resources.Requests[resource]; ok && request.Cmp(limit) > 0 {
				c.fail(doc, "%s: %s request %s is above its limit %s", where, resource, request.String(), limit.String())
			}
		}
	}
}

func (c *checker) checkPortReference(doc *document, where string, port intstr.IntOrString, ports []corev1.ContainerPort) {
	if port.Type == intstr.Int {
		return
	}
	for _, p := range ports {
		if p.Name == port.StrVal {
			return
		}
	}
	c.fail(doc, "%s names port %q, which the container does not declare", where, port.StrVal)
}

// selects reports whether the selector picks the pods of at least one rendered workload, and
// returns that workload's template.
func (c *checker) selects(selector labels.Selector) *corev1.PodTemplateSpec {
	for doc, template := range c.podTemplates() {
		if _, isDeployment := doc.object.(*appsv1.Deployment); isDeployment &&
			selector.Matches(labels.Set(template.Labels)) {
			return template
		}
	}
	return nil
}

func (c *checker) checkDocument(doc *document) {
	c.checkMetadata(doc)
	switch o := doc.object.(type) {
	case *appsv1.Deployment:
		selector, err := metaSelector(o.Spec.Selector)
		if err != nil || selector.Empty() {
			c.fail(doc, "spec.selector must be a non-empty label selector (%v)", err)
		} else if !selector.Matches(labels.Set(o.Spec.Template.Labels)) {
			c.fail(doc, "spec.selector %s does not match the pod template's labels %v", selector, o.Spec.Template.Labels)
		}
		if o.Spec.Replicas != nil && *o.Spec.Replicas < 0 {
			c.fail(doc, "spec.replicas must not be negative")
		}
		c.checkPod(doc, &o.Spec.Template)
	case *batchv1.Job:
		c.checkPod(doc, &o.Spec.Template)
	case *corev1.ConfigMap:
		for key := range o.Data {
			for _, e := range validation.IsConfigMapKey(key) {
				c.fail(doc, "data key %q: %s", key, e)
			}
		}
	case *corev1.Service:
		if len(o.Spec.Selector) == 0 {
			c.fail(doc, "spec.selector is empty: the Service would select no pods of the chart")
			break
		}
		template := c.selects(labels.SelectorFromSet(o.Spec.Selector))
		if template == nil {
			c.fail(doc, "spec.selector %v matches no rendered Deployment's pods", o.Spec.Selector)
			break
		}
		for _, p := range o.Spec.Ports {
			if p.Port < 1 || p.Port > 65535 {
				c.fail(doc, "port %q: %d out of 1-65535", p.Name, p.Port)
			}
			c.checkPortReference(doc, "port "+p.Name+" targetPort", p.TargetPort, template.Spec.Containers[0].Ports)
		}
	case *policyv1.PodDisruptionBudget:
		if (o.Spec.MinAvailable == nil) == (o.Spec.MaxUnavailable == nil) {
			c.fail(doc, "set exactly one of minAvailable and maxUnavailable")
		}
		selector, err := metaSelector(o.Spec.Selector)
		if err != nil || c.selects(selector) == nil {
			c.fail(doc, "spec.selector matches no rendered Deployment's pods (%v)", err)
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		ref := o.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || c.find("Deployment", ref.Name) == nil {
			c.fail(doc, "scaleTargetRef %s %s %q is not a rendered Deployment", ref.APIVersion, ref.Kind, ref.Name)
		} else if d := c.find("Deployment", ref.Name).object.(*appsv1.Deployment); d.Spec.Replicas != nil {
			c.fail(doc, "the Deployment it scales also sets spec.replicas, which each upgrade would reset")
		}
		if o.Spec.MinReplicas != nil && *o.Spec.MinReplicas > o.Spec.MaxReplicas {
			c.fail(doc, "minReplicas %d is above maxReplicas %d", *o.Spec.MinReplicas, o.Spec.MaxReplicas)
		}
		if len(o.Spec.Metrics) == 0 {
			c.fail(doc, "no metrics to scale on")
		}
	case *monitoringv1.ServiceMonitor:
		selector, err := metaSelector(&o.Spec.Selector)
		if err != nil {
			c.fail(doc, "spec.selector: %v", err)
			break
		}
		var service *corev1.Service
		for i := range c.docs {
			if s, ok := c.docs[i].object.(*corev1.Service); ok && selector.Matches(labels.Set(s.Labels)) {
				service = s
			}
		}
		if service == nil {
			c.fail(doc, "spec.selector %s matches no rendered Service's labels", selector)
			break
		}
		for _, e := range o.Spec.Endpoints {
			found := false
			for _, p := range service.Spec.Ports {
				found = found || p.Name == e.Port
			}
			if !found {
				c.fail(doc, "endpoint port %q is not a port of Service %s", e.Port, service.Name)
			}
		}
	case *monitoringv1.PrometheusRule:
		if len(o.Spec.Groups) == 0 {
			c.fail(doc, "no rule groups")
		}
	}
}

// metaSelector converts a label selector; nil or empty selects nothing here.
func metaSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Nothing(), errors.New("no selector")
	}
	return metav1.LabelSelectorAsSelector(s)
}

// referencedSecrets lists the Secrets the pods need, which the operator creates before installing.
func (c *checker) referencedSecrets() []string {
	set := map[string]bool{}
	for _, template := range c.podTemplates() {
		for _, v := range template.Spec.Volumes {
			if v.Secret != nil {
				set[v.Secret.SecretName] = true
			}
		}
		for _, s := range template.Spec.ImagePullSecrets {
			set[s.Name] = true
		}
		for _, container := range template.Spec.Containers {
			for _, env := range container.Env {
				if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil {
					set[env.ValueFrom.SecretKeyRef.Name+"/"+env.ValueFrom.SecretKeyRef.Key] = true
				}
			}
		}
	}
	var names []string
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (c *checker) writeRules(dir string) error {
	for i := range c.docs {
		rule, ok := c.docs[i].object.(*monitoringv1.PrometheusRule)
		if !ok {
			continue
		}
		out, err := yaml.Marshal(rule.Spec)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, rule.Name+".rules.yaml")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d groups)\n", path, len(rule.Spec.Groups))
	}
	return nil
}

func main() {
	rulesDir := flag.String("rules-dir", "", "write each PrometheusRule's spec here as a rules file")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: manifestcheck [--rules-dir DIR] RENDERED.yaml...")
		os.Exit(2)
	}
	c := newChecker()
	for _, path := range flag.Args() {
		if err := c.read(path); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(2)
		}
	}
	kinds := map[string]int{}
	for i := range c.docs {
		c.checkDocument(&c.docs[i])
		kinds[c.docs[i].kind]++
	}
	if *rulesDir != "" {
		if err := c.writeRules(*rulesDir); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(2)
		}
	}
	var summary bytes.Buffer
	var sorted []string
	for kind := range kinds {
		sorted = append(sorted, kind)
	}
	sort.Strings(sorted)
	for _, kind := range sorted {
		fmt.Fprintf(&summary, " %s=%d", kind, kinds[kind])
	}
	fmt.Printf("checked %d objects:%s\n", len(c.docs), summary.String())
	fmt.Printf("secrets the release expects to exist: %s\n", strings.Join(c.referencedSecrets(), ", "))
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Println("INVALID", p)
		}
		fmt.Printf("%d problems\n", len(c.problems))
		os.Exit(1)
	}
	fmt.Println("valid")
}
