"""The store's connection settings live in one ConfigMap: the operator's environment, and what
`modelyard report` reads from a user's shell; users may read it and nothing else."""

from __future__ import annotations

from tests.support import helm

README_SETS = ("store.uri=s3://models/modelyard", "store.endpoint=http://minio.minio.svc:9000",
               "store.addressingStyle=path", "store.secretName=model-store-credentials")


def test_the_store_settings_are_one_labelled_configmap_the_operator_reads():
    objects = helm.render(sets=README_SETS)
    (settings,) = [c for c in helm.find(objects, "ConfigMap")
                   if c["metadata"]["labels"].get("modelyard.dev/settings") == "store"]
    assert settings["metadata"] == {**settings["metadata"], "name": "modelyard-store", "namespace": helm.NAMESPACE}
    assert settings["data"]["MODELYARD_S3_ENDPOINT"] == "http://minio.minio.svc:9000"
    assert settings["data"]["MODELYARD_S3_ADDRESSING_STYLE"] == "path"
    assert settings["data"]["MODELYARD_STORE_SECRET_NAME"] == "model-store-credentials"
    assert not [k for k in settings["data"] if "KEY" in k and "CA" not in k], "never credentials"
    (container,) = helm.one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": "modelyard-store"}}]
    assert not {e["name"] for e in container["env"]} & set(settings["data"]), "one source for each setting"


def test_users_may_read_the_store_settings_and_nothing_else():
    objects = helm.render()
    role = helm.one(objects, "Role", "modelyard-store-settings-reader")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["modelyard-store"],
                              "verbs": ["get"]}]
    binding = helm.one(objects, "RoleBinding", "modelyard-store-settings-reader")
    assert binding["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}]
    assert not helm.find(helm.render(sets=("store.settingsReaders=null",)), "Role", "modelyard-store-settings-reader")


def test_changed_store_settings_restart_the_operator():
    def checksum(*sets: str) -> str:
        pod = helm.one(helm.render(sets=sets), "Deployment")["spec"]["template"]
        return pod["metadata"]["annotations"]["checksum/store"]

    assert checksum("store.endpoint=http://a:9000") != checksum("store.endpoint=http://b:9000")
