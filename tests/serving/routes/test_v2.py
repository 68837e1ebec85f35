"""The Open Inference Protocol v2 (`serving/routes/v2.py`), in the protocol's own shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving import tensors as tensors_module
from tests.helpers import LOANS, NAME, Store, plain, reference, uvicorn


def tensors(frame: pd.DataFrame) -> list[dict[str, Any]]:
    kinds = {"float": "FP64", "integer": "INT64", "boolean": "BOOL", "category": "BYTES"}
    return [
        {
            "name": name,
            "shape": [len(frame)],
            "datatype": kinds[column.type],
            "data": [plain(v) for v in frame[name]],
        }
        for name, column in LOANS.features.items()
    ]


def test_v2_server_and_model_metadata(client: TestClient) -> None:
    server = client.get("/v2").json()
    assert {"name", "version", "extensions"} <= set(server)
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    meta = client.get(f"/v2/models/{NAME}").json()
    assert meta["name"] == NAME and meta["versions"] == ["1"]
    inputs = {t["name"]: t["datatype"] for t in meta["inputs"]}
    assert inputs["income"] == "FP64" and inputs["loan_purpose"] == "BYTES"
    assert inputs["has_guarantor"] == "BOOL" and inputs["loan_term_months"] == "INT64"
    assert [o["name"] for o in meta["outputs"]] == ["probability", "decision"]
    assert client.get(f"/v2/models/{NAME}/versions/1").status_code == 200
    assert client.get(f"/v2/models/{NAME}/ready").json() == {"name": NAME, "ready": True}
    assert client.get(f"/v2/models/{NAME}/versions/1/ready").status_code == 200


def test_v2_infer_answers_one_tensor_per_output_and_echoes_the_id(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    frame = splits["test"].head(7)
    request = {"id": "req-42", "parameters": {"content_type": "pd"}, "inputs": tensors(frame)}
    for path in (f"/v2/models/{NAME}/infer", f"/v2/models/{NAME}/versions/1/infer"):
        response = client.post(path, json=request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == "req-42" and body["model_name"] == NAME
        assert body["model_version"] == "1"
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["probability"]["datatype"] == "FP64"
        assert outputs["probability"]["shape"] == [7]
        np.testing.assert_allclose(
            outputs["probability"]["data"], reference(store, frame), atol=1e-9, rtol=0
        )
        assert set(outputs["decision"]["data"]) <= {"approve", "refer", "reject"}


def test_the_tensor_order_is_the_declarations() -> None:
    assert list(LOANS.features).index("loan_purpose") == 5
    assert next(iter(LOANS.features)) == "income"


@pytest.mark.parametrize(
    ("mutate", "status", "words"),
    [
        (lambda r: r.update(inputs="nope"), 400, "inputs"),
        (lambda r: r["inputs"][0].update(shape=[99]), 400, "shape"),
        (lambda r: r["inputs"][5].update(data=["yacht"] * 3), 400, "loan_purpose"),
        (lambda r: r["inputs"].pop(0), 400, "income"),
        # The document says strings (the protocol's); an id is echoed, a name is a column.
        (lambda r: r.update(id=42), 400, "id"),
        (lambda r: r["inputs"][0].update(name=7), 400, "name"),
    ],
)
def test_v2_errors_are_the_protocols_error_object(
    client: TestClient,
    splits: dict[str, pd.DataFrame],
    mutate: Any,
    status: int,
    words: str,
) -> None:
    request = {"inputs": tensors(splits["test"].head(3))}
    mutate(request)
    response = client.post(f"/v2/models/{NAME}/infer", json=request)
    assert response.status_code == status
    assert set(response.json()) == {"error"} and words in response.json()["error"]


def test_v2_unknown_model_is_a_404(client: TestClient) -> None:
    response = client.post("/v2/models/other/infer", json={"inputs": []})
    assert response.status_code == 404 and "error" in response.json()
    assert client.get(f"/v2/models/{NAME}/versions/9").status_code == 404


def test_an_empty_v2_batch_is_refused(client: TestClient, splits: dict[str, pd.DataFrame]) -> None:
    request = {"inputs": tensors(splits["test"].head(0))}
    response = client.post(f"/v2/models/{NAME}/infer", json=request)
    assert response.status_code == 400 and "error" in response.json()


# -- the binary tensor data extension, as Triton's clients send it ----------------------


def triton_inputs(frame: pd.DataFrame, binary: bool = True) -> list[Any]:
    """One `tritonclient` input a feature, typed as the client types NumPy arrays."""
    from tritonclient.http import InferInput
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, column in LOANS.features.items():
        values = frame[name].to_numpy()
        if column.type == "category":
            values = values.astype(object)
        elif column.type == "integer":
            values = values.astype(np.int64)
        one = InferInput(name, [len(frame)], np_to_triton_dtype(values.dtype))
        one.set_data_from_numpy(values, binary_data=binary)
        inputs.append(one)
    return inputs


def test_tritons_own_client_with_its_defaults_is_answered(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    """Binary tensors both ways (the client's default), then JSON outputs on request."""
    from tritonclient.http import InferenceServerClient, InferRequestedOutput
    from tritonclient.utils import InferenceServerException

    frame = splits["test"].head(9)
    with uvicorn(store, tmp_path) as server:
        client = InferenceServerClient(server.url.removeprefix("http://"))
        assert client.is_server_live() and client.is_model_ready(NAME)
        result = client.infer(NAME, triton_inputs(frame), request_id="t-1")
        response = result.get_response()
        assert response["id"] == "t-1"
        assert all("binary_data_size" in o["parameters"] for o in response["outputs"])
        np.testing.assert_allclose(
            result.as_numpy("probability"), reference(store, frame), atol=1e-9, rtol=0
        )
        decisions = {bytes(d).decode() for d in result.as_numpy("decision")}
        assert decisions <= {"approve", "refer", "reject"}

        # All JSON: the client then sends no content type, and like any body without one
        # it is refused (a page could post it cross-site) until it says it is JSON.
        asked = [InferRequestedOutput("probability", binary_data=False)]
        json_only = triton_inputs(frame, binary=False)
        with pytest.raises(InferenceServerException, match="415"):
            client.infer(NAME, json_only, outputs=asked)
        typed = {"Content-Type": "application/json"}
        plain_json = client.infer(NAME, json_only, outputs=asked, headers=typed)
        assert [o["name"] for o in plain_json.get_response()["outputs"]] == ["probability"]
        np.testing.assert_allclose(
            plain_json.as_numpy("probability"), result.as_numpy("probability"), rtol=0, atol=0
        )


def binary_body(frame: pd.DataFrame) -> tuple[bytes, dict[str, str]]:
    """A request as the extension frames it: the JSON header, then each tensor's bytes."""
    header: dict[str, Any] = {"inputs": []}
    raw = b""
    for tensor in tensors(frame):
        data = tensor.pop("data")
        packed = tensors_module.encode(data, tensor["datatype"])
        tensor["parameters"] = {"binary_data_size": len(packed)}
        header["inputs"].append(tensor)
        raw += packed
    head = orjson.dumps(header)
    return head + raw, {tensors_module.HEADER: str(len(head))}


@pytest.mark.parametrize(
    ("cut", "words"),
    [
        (lambda b, h: (b[:-3], h), "runs past the body"),  # the last tensor is cut short
        (lambda b, h: (b + b"\0" * 8, h), "belong to no input"),
        (lambda b, h: (b, {tensors_module.HEADER: "nope"}), "byte count"),
        (lambda b, h: (b, {tensors_module.HEADER: str(len(b) + 1)}), "byte count"),
        (lambda b, h: (b, {tensors_module.HEADER: "5"}), "not JSON"),
    ],
)
def test_a_malformed_binary_body_is_a_400_naming_the_problem(
    client: TestClient, splits: dict[str, pd.DataFrame], cut: Any, words: str
) -> None:
    body, headers = cut(*binary_body(splits["test"].head(4)))
    response = client.post(f"/v2/models/{NAME}/infer", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"} and words in response.json()["error"]


def test_a_binary_body_decodes_to_what_its_json_twin_scores(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    frame = splits["test"].head(6)
    body, headers = binary_body(frame)
    binary = client.post(f"/v2/models/{NAME}/infer", content=body, headers=headers)
    twin = client.post(f"/v2/models/{NAME}/infer", json={"inputs": tensors(frame)})
    assert binary.status_code == twin.status_code == 200, binary.text
    assert binary.json()["outputs"] == twin.json()["outputs"]


def test_a_body_without_a_json_type_or_the_binary_header_is_still_refused(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    body, _ = binary_body(splits["test"].head(2))
    response = client.post(
        f"/v2/models/{NAME}/infer", content=body, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
