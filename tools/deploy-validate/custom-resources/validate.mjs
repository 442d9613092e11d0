// Validates custom resources that Kubernetes' own OpenAPI models do not cover, with the models published for
// them on npm (@kubernetes-models/*, generated from the projects' CRDs): field types, required fields and enums.
// Input: a JSON array of {where, object} that ValidateDeploy wrote; exit status 1 on the first invalid file.
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";

const models = {
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const { where, object } of objects) {
  const Model = models[`${object.apiVersion}/${object.kind}`];
  if (!Model) {
    console.error(`${where}: no model here for apiVersion ${object.apiVersion} kind ${object.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
  } catch (e) {
    console.error(`${where}: ${e.message}`);
    failed++;
  }
}
console.log(`custom resources: ${objects.length} checked, ${failed} invalid`);
process.exit(failed === 0 ? 0 : 1);
