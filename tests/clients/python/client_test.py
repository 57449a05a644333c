"""A Python client of sagad's saga.v1 API, generated from proto/ with grpcio-tools: proof that
the API works from outside C++. Run by python_client_test.sh against the quickstart's sagad
(the example shop participants and the "order" saga)."""
import argparse
import sys
import uuid

import grpc

from saga.v1 import (admin_service_pb2, admin_service_pb2_grpc, outbox_service_pb2,
                     outbox_service_pb2_grpc, saga_pb2, saga_service_pb2, saga_service_pb2_grpc)

OUT_OF_STOCK = b"\x0a\x0cout-of-stock\x10\x01"  # shop.v1.ReserveRequest{sku: "out-of-stock"}

passed, failed = 0, 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", required=True)
    args = parser.parse_args()
    stub = saga_service_pb2_grpc.SagaServiceStub(grpc.insecure_channel(args.addr))

    listed = stub.ListDefinitions(saga_service_pb2.ListDefinitionsRequest(), timeout=10)
    check("ListDefinitions shows order", "order" in [d.name for d in listed.definitions])

    done = stub.StartSaga(
        saga_service_pb2.StartSagaRequest(definition_name="order", wait_for_completion=True,
                                          labels={"client": "python"}), timeout=20)
    check("an order completes", done.saga.state == saga_pb2.SAGA_STATE_COMPLETED, done.saga)

    undone = stub.StartSaga(
        saga_service_pb2.StartSagaRequest(definition_name="order", wait_for_completion=True,
                                          payloads={"reserve_stock": OUT_OF_STOCK}), timeout=20)
    check("an out-of-stock order compensates",
          undone.saga.state == saga_pb2.SAGA_STATE_COMPENSATED, undone.saga)

    key = "python-" + str(uuid.uuid4())
    first = stub.StartSaga(saga_service_pb2.StartSagaRequest(definition_name="order",
                                                             idempotency_key=key), timeout=10)
    second = stub.StartSaga(saga_service_pb2.StartSagaRequest(definition_name="order",
                                                              idempotency_key=key), timeout=10)
    check("an idempotency key starts one saga",
          first.created and not second.created and first.saga.saga_id == second.saga.saga_id)

    got = stub.GetSaga(saga_service_pb2.GetSagaRequest(saga_id=done.saga.saga_id), timeout=10)
    check("GetSaga returns the labels", got.saga.labels.get("client") == "python")

    try:
        stub.GetSaga(saga_service_pb2.GetSagaRequest(saga_id="nope"), timeout=10)
        check("a malformed saga id is refused", False, "no error")
    except grpc.RpcError as e:
        check("a malformed saga id is refused",
              e.code() == grpc.StatusCode.INVALID_ARGUMENT and "saga_id" in e.details(),
              f"{e.code()} {e.details()}")

    try:
        stub.StartSaga(saga_service_pb2.StartSagaRequest(definition_name="no_such_saga"),
                       timeout=10)
        check("an unknown definition is NOT_FOUND", False, "no error")
    except grpc.RpcError as e:
        check("an unknown definition is NOT_FOUND", e.code() == grpc.StatusCode.NOT_FOUND,
              f"{e.code()} {e.details()}")

    channel = grpc.insecure_channel(args.addr)
    outbox = outbox_service_pb2_grpc.OutboxServiceStub(channel)
    published = outbox.Publish(outbox_service_pb2.PublishRequest(messages=[
        outbox_service_pb2.OutboxMessage(topic="orders.events", key=b"order-7", payload=b"paid",
                                         headers={"event-type": "OrderPaid"}),
        outbox_service_pb2.OutboxMessage(topic="orders.events", key=b"order-7", payload=b"shipped",
                                         message_id="python-" + str(uuid.uuid4()))]), timeout=10)
    check("Publish stores two messages and returns their ids",
          len(published.message_ids) == 2 and all(published.message_ids), published)

    try:
        outbox.Publish(outbox_service_pb2.PublishRequest(messages=[
            outbox_service_pb2.OutboxMessage(topic="bad topic!", key=b"k", payload=b"x")]),
            timeout=10)
        check("Publish refuses an invalid topic", False, "no error")
    except grpc.RpcError as e:
        check("Publish refuses an invalid topic",
              e.code() == grpc.StatusCode.INVALID_ARGUMENT and "topic" in e.details(),
              f"{e.code()} {e.details()}")

    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    parked = admin.ListParked(admin_service_pb2.ListParkedRequest(topic="orders.events"),
                              timeout=10)
    check("ListParked answers (nothing parked)", len(parked.messages) == 0, parked)

    print(f"python client: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
