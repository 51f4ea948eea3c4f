/* The rule tables of drift.h. */
#include "userruntime/drift.h"

const cp_json_rule_t cp_ur_rules_service[] = {{"", false}, {"spec/selector", true}, {NULL, false}};

const cp_json_rule_t cp_ur_rules_netpol[] = {{"", false}, {"spec", true}, {NULL, false}};

/* The file service's token: a changed one locks the apiserver out and is applied back; an
 * extra data key reaches no container (the sidecar reads only "token"), so "contains" is
 * enough, and the controller needs only patch on Secrets, never update. */
const cp_json_rule_t cp_ur_rules_files_secret[] = {{"", false}, {NULL, false}};

const cp_json_rule_t cp_ur_rules_pvc[] = {{"", false}, {NULL, false}};

/* The rendered OpenClaw configuration: an extra key would be an extra file in the pod. */
const cp_json_rule_t cp_ur_rules_config[] = {{"", false}, {"data", true}, {NULL, false}};

/* Traefik's objects: an extra middleware option (trustForwardHeader, say), route or service
 * changes who gets in, so the whole spec is exact. */
const cp_json_rule_t cp_ur_rules_route[] = {{"", false}, {"spec", true}, {NULL, false}};

const cp_json_rule_t cp_ur_rules_pod_meta[] = {{"metadata/labels", false},
                                               {"metadata/ownerReferences", true},
                                               {"metadata/annotations", false},
                                               {NULL, false}};

const cp_json_rule_t cp_ur_rules_pod_spec[] = {{"spec/securityContext", true},
                                               {"spec/automountServiceAccountToken", true},
                                               {"spec/hostname", true},
                                               {"spec/volumes", false},
                                               {"spec/containers/*/name", true},
                                               {"spec/containers/*/image", true},
                                               {"spec/containers/*/command", true},
                                               {"spec/containers/*/args", true},
                                               {"spec/containers/*/env", true},
                                               {"spec/containers/*/securityContext", true},
                                               {"spec/containers/*/volumeMounts", false},
                                               {"spec/initContainers/*/name", true},
                                               {"spec/initContainers/*/image", true},
                                               {"spec/initContainers/*/command", true},
                                               {"spec/initContainers/*/env", true},
                                               {"spec/initContainers/*/securityContext", true},
                                               {"spec/initContainers/*/volumeMounts", false},
                                               {NULL, false}};
