"""The release path lines up end to end: every image the deploy workflow builds has a Dockerfile, a registry that
Terraform makes, and a manifest that runs it; every manifest's image is one the workflow builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mce import registry
from tests.deploy.conftest import DEPLOY, REPO
from tests.deploy.test_terraform import load_root

pytestmark = pytest.mark.deploy

WORKFLOW = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
K8S = DEPLOY / "k8s"


def _built_on_aws() -> dict[str, str]:
    """Image name -> Dockerfile, from the deploy workflow's build matrix."""
    return {
        entry["name"]: entry["dockerfile"] for entry in WORKFLOW["jobs"]["aws-images"]["strategy"]["matrix"]["include"]
    }


def _overlay_images(folder: Path) -> dict[str, str]:
    """Image name -> registry path, from an overlay's kustomization `images:`."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return {image["name"]: image["newName"] for image in kustomization.get("images", [])}


def test_every_image_built_for_aws_has_a_dockerfile_an_ecr_repository_and_an_overlay_that_runs_it() -> None:
    built = _built_on_aws()
    for name, dockerfile in built.items():
        assert (REPO / dockerfile).is_file(), f"{name}: {dockerfile} does not exist"
    ecr = set(load_root("aws")["locals"]["images"])
    overlays = {path.name for path in (K8S / "aws").iterdir() if (path / "kustomization.yaml").is_file()} - {"common"}
    assert set(built) == ecr == overlays
    for name in built:
        images = _overlay_images(K8S / "aws" / name)
        assert list(images) == [name], f"the {name} overlay runs {images}"
        assert images[name].endswith(f"/{name}"), images


def test_the_python_images_are_built_for_registered_services() -> None:
    # One Dockerfile serves every Python service, by its registry name; the others have Dockerfiles of their own.
    for name, dockerfile in _built_on_aws().items():
        if dockerfile == "deploy/docker/Dockerfile":
            assert name in registry.BY_NAME, name


def test_the_manifest_bump_covers_exactly_the_images_built() -> None:
    bump = next(s["run"] for s in WORKFLOW["jobs"]["bump-manifests"]["steps"] if "kustomize edit" in s.get("run", ""))
    loop = bump.split("for name in ", 1)[1].split(";", 1)[0].split()
    assert set(loop) == set(_built_on_aws())
    assert "deploy/k8s/azure/stream" in bump and (K8S / "azure" / "stream" / "kustomization.yaml").is_file()


def test_the_stream_image_goes_to_the_azure_registry_that_terraform_makes_and_aks_runs() -> None:
    steps = WORKFLOW["jobs"]["stream-image"]["steps"]
    build = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert (REPO / build["with"]["file"]).is_file()
    assert "azurerm_container_registry" in load_root("azure")["resource"]
    assert "stream" in _overlay_images(K8S / "azure" / "stream")


def test_the_lambda_and_the_function_are_shipped_by_the_scripts_that_package_them() -> None:
    scripts = {
        job: " ".join(step.get("run", "") for step in WORKFLOW["jobs"][job]["steps"])
        for job in ("lambda", "analytics-function")
    }
    assert "deploy/aws/package-image-processor.sh" in scripts["lambda"]
    assert "deploy/azure/package-analytics-function.sh" in scripts["analytics-function"]
    assert (DEPLOY / "aws" / "package-image-processor.sh").is_file()
    assert (DEPLOY / "azure" / "package-analytics-function.sh").is_file()


def test_every_argocd_application_deploys_a_folder_that_exists() -> None:
    for path in sorted((DEPLOY / "gitops" / "apps").glob("*.yaml")):
        app = yaml.safe_load(path.read_text())
        sources = app["spec"].get("sources") or [app["spec"]["source"]]
        for source in sources:
            if "path" in source:
                assert (REPO / source["path"]).is_dir(), f"{path.name}: {source['path']} does not exist"
