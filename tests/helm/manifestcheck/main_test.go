package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small release as the chart renders it; each case below breaks one thing the checker must
// catch.
const validRelease = `
apiVersion: v1
kind: ConfigMap
metadata: {name: rel-sagad, labels: {app.kubernetes.io/name: sagad}}
data: {SAGAD_GRPC_ADDR: "0.0.0.0:50051"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: rel-sagad}
---
apiVersion: v1
kind: Service
metadata: {name: rel-sagad, labels: {app.kubernetes.io/name: sagad}}
spec:
  selector: {app.kubernetes.io/name: sagad}
  ports:
    - {name: grpc, port: 50051, targetPort: grpc}
    - {name: http, port: 8081, targetPort: http}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: rel-sagad}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: sagad}}
  template:
    metadata: {labels: {app.kubernetes.io/name: sagad}}
    spec:
      serviceAccountName: rel-sagad
      containers:
        - name: sagad
          image: sagad:0.1.0
          ports:
            - {name: grpc, containerPort: 50051}
            - {name: http, containerPort: 8081}
          envFrom: [{configMapRef: {name: rel-sagad}}]
          env:
            - {name: PGPASSWORD, valueFrom: {secretKeyRef: {name: pg, key: password}}}
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          resources: {requests: {memory: 256Mi}, limits: {memory: 1Gi}}
          volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {}}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: rel-sagad-migrate
  annotations: {helm.sh/hook: pre-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: sagad:0.1.0
          env: [{name: SAGAD_PG_DSN, value: "postgresql://sagad@pg/sagad"}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: rel-sagad}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: sagad}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: rel-sagad}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: rel-sagad}
  minReplicas: 2
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: rel-sagad}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: sagad}}
  endpoints: [{port: http, path: /metrics}]
`

func check(t *testing.T, release string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "release.yaml")
	if err := os.WriteFile(path, []byte(release), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newChecker()
	if err := c.read(path); err != nil {
		t.Fatal(err)
	}
	for i := range c.docs {
		c.checkDocument(&c.docs[i])
	}
	return c.problems
}

func TestValidReleasePasses(t *testing.T) {
	if problems := check(t, validRelease); len(problems) > 0 {
		t.Fatalf("valid release reported: %v", problems)
	}
}

func TestEachBreakageIsCaught(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown field", "restartPolicy: Never", "restartPolicy: Never\n      restartPolicyy: Never", `unknown field "spec.template.spec.restartPolicyy"`},
		{"wrong type", "maxReplicas: 4", "maxReplicas: four", "maxReplicas"},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", "no kind"},
		{"removed API version", "apiVersion: autoscaling/v2\n", "apiVersion: autoscaling/v2beta1\n", "no kind"},
		{"selector does not match the pods", "selector: {matchLabels: {app.kubernetes.io/name: sagad}}\n  template",
			"selector: {matchLabels: {app.kubernetes.io/name: other}}\n  template", "does not match the pod template"},
		{"probe on an undeclared port", "port: http}}", "port: metrics}}", `readinessProbe names port "metrics"`},
		{"Service targetPort not on the pod", "targetPort: grpc}", "targetPort: rpc}", `targetPort names port "rpc"`},
		{"invalid name", "metadata: {name: rel-sagad}\nspec:\n  maxUnavailable", "metadata: {name: Rel_Sagad}\nspec:\n  maxUnavailable", "metadata.name"},
		{"invalid label value", "labels: {app.kubernetes.io/name: sagad}}\ndata", "labels: {app.kubernetes.io/name: \"sagad!\"}}\ndata", "value"},
		{"env var name", "{name: PGPASSWORD,", "{name: \"PG PASSWORD\",", "env \"PG PASSWORD\""},
		{"mount of no volume", "volumeMounts: [{name: tmp,", "volumeMounts: [{name: scratch,", `volumeMount "scratch"`},
		{"request above limit", "requests: {memory: 256Mi}", "requests: {memory: 2Gi}", "above its limit"},
		{"ConfigMap not rendered", "configMapRef: {name: rel-sagad}", "configMapRef: {name: rel-sagad-config}", "not rendered"},
		{"hook uses the release's ConfigMap", "env: [{name: SAGAD_PG_DSN", "envFrom: [{configMapRef: {name: rel-sagad}}]\n          env: [{name: SAGAD_PG_DSN", "hook runs before"},
		{"Job restartPolicy", "restartPolicy: Never", "restartPolicy: Always", "restartPolicy must be Never or OnFailure"},
		{"autoscaler target missing", "kind: Deployment, name: rel-sagad}", "kind: Deployment, name: sagad}", "not a rendered Deployment"},
		{"PDB with both bounds", "maxUnavailable: 1", "maxUnavailable: 1\n  minAvailable: 1", "exactly one"},
		{"ServiceMonitor port", "[{port: http, path: /metrics}]", "[{port: metrics, path: /metrics}]", `endpoint port "metrics"`},
		{"duplicate field", "restartPolicy: Never", "restartPolicy: Never\n      restartPolicy: Never", `key "restartPolicy" already set`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validRelease, tc.from) {
				t.Fatalf("the case's text %q is not in the valid release", tc.from)
			}
			broken := strings.Replace(validRelease, tc.from, tc.to, 1)
			problems := check(t, broken)
			joined := strings.Join(problems, "\n")
			if !strings.Contains(joined, tc.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", tc.want, joined)
			}
		})
	}
}
