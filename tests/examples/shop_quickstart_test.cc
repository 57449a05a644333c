// The quickstart's story end to end: the example shop participants (examples/shop) in their
// own process, sagad started with their descriptor set and the example definitions directory,
// an order that completes, one that compensates (out of stock), and one whose charge is
// declined after stock was reserved.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "shop/shop.pb.h"
#include "tests/harness/child_process.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::testing::HasSubstr;

class ShopQuickstartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::SharedPostgres().CreateFreshDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    std::string output;
    auto code = saga::testing::SagadProcess::Run(*dsn, {"migrate"}, &output);
    ASSERT_TRUE(code.ok() && *code == 0) << output;
    port_ = saga::testing::PickFreePort();
    auto shop = saga::testing::ChildProcess::Spawn(
        {.argv = {SHOP_PARTICIPANT, saga::StrCat("--port=", port_)}});
    ASSERT_TRUE(shop.ok());
    shop_ = *std::move(shop);
    ASSERT_TRUE(saga::testing::WaitFor(
        [&] { return saga::testing::PortAcceptsConnections(port_); }, absl::Seconds(10)));
    auto sagad = saga::testing::SagadProcess::Start(
        *dsn, {saga::StrCat("SAGAD_DESCRIPTOR_SET=", SHOP_DESCRIPTOR_SET),
               saga::StrCat("SAGAD_DESCRIPTOR_TARGETS=127.0.0.1:", port_),
               saga::StrCat("SAGAD_DEFINITIONS=", EXAMPLE_DEFINITIONS)});
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    sagad_ = *std::move(sagad);
    sagas_ = saga::v1::SagaService::NewStub(sagad_->channel());
  }

  saga::v1::Saga Order(const std::string& sku, int64_t cents) {
    saga::v1::StartSagaRequest start;
    start.set_definition_name("order");
    start.set_wait_for_completion(true);
    shop::v1::ReserveRequest reserve;
    reserve.set_sku(sku);
    reserve.set_quantity(1);
    shop::v1::ChargeRequest charge;
    charge.set_amount_cents(cents);
    (*start.mutable_payloads())["reserve_stock"] = reserve.SerializeAsString();
    (*start.mutable_payloads())["charge"] = charge.SerializeAsString();
    saga::v1::StartSagaResponse started;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    grpc::Status status = sagas_->StartSaga(&context, start, &started);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return started.saga();
  }

  int port_ = 0;
  std::unique_ptr<saga::testing::ChildProcess> shop_;
  std::unique_ptr<saga::testing::SagadProcess> sagad_;
  std::unique_ptr<saga::v1::SagaService::Stub> sagas_;
};

TEST_F(ShopQuickstartTest, OrdersCompleteOrCompensate) {
  saga::v1::Saga ok = Order("sku-42", 1999);
  EXPECT_EQ(ok.state(), saga::v1::SAGA_STATE_COMPLETED);

  saga::v1::Saga out_of_stock = Order("out-of-stock", 1999);
  EXPECT_EQ(out_of_stock.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(out_of_stock.error(), HasSubstr("out of stock"));
  EXPECT_EQ(out_of_stock.steps(0).state(), saga::v1::STEP_STATE_FAILED);

  saga::v1::Saga declined = Order("sku-42", 500000);
  EXPECT_EQ(declined.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(declined.error(), HasSubstr("card declined"));
  EXPECT_EQ(declined.steps(0).state(), saga::v1::STEP_STATE_COMPENSATED);  // stock released
  EXPECT_EQ(declined.steps(2).state(), saga::v1::STEP_STATE_NOT_RUN);

  // The definitions directory was registered too.
  saga::v1::GetDefinitionRequest get;
  get.set_name("order_express");
  saga::v1::GetDefinitionResponse got;
  grpc::ClientContext context;
  grpc::Status status = sagas_->GetDefinition(&context, get, &got);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace saga
