// Tests of definitions derived from saga options on a participant's own methods, using the
// compiled descriptors of examples/shop/shop.proto, and of definitions read from files.
#include "coordinator/descriptor_import.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <google/protobuf/descriptor.pb.h>

#include "coordinator/definition_files.h"
#include "coordinator/definition_validator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/options.pb.h"
#include "sdk/base/uuid.h"

namespace saga::coordinator {
namespace {

using ::testing::HasSubstr;

std::string ShopDescriptorSet() {
  std::ifstream in(SHOP_DESCRIPTOR_SET, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(DescriptorImportTest, DerivesTheOrderSagaFromTheShopProto) {
  auto definitions = DefinitionsFromDescriptorSet(
      ShopDescriptorSet(), {.by_service = {{"shop.v1.Shipping", "ship:9"}}, .fallback = "shop:7"});
  ASSERT_TRUE(definitions.ok()) << definitions.status();
  ASSERT_EQ(definitions->size(), 1u);
  const saga::v1::SagaDefinition& order = (*definitions)[0];
  EXPECT_EQ(order.name(), "order");
  ASSERT_EQ(order.steps_size(), 3);
  EXPECT_EQ(order.steps(0).name(), "reserve_stock");
  EXPECT_EQ(order.steps(0).action().grpc().method(), "/shop.v1.Stock/Reserve");
  EXPECT_EQ(order.steps(0).action().grpc().target(), "shop:7");
  EXPECT_EQ(order.steps(0).compensation().grpc().method(), "/shop.v1.Stock/Release");
  EXPECT_EQ(order.steps(1).kind(), saga::v1::STEP_KIND_PIVOT);
  EXPECT_EQ(order.steps(1).status().grpc().method(), "/shop.v1.Payments/ChargeStatus");
  EXPECT_EQ(order.steps(1).timeout().seconds(), 2);
  EXPECT_EQ(order.steps(2).kind(), saga::v1::STEP_KIND_RETRIABLE);
  EXPECT_FALSE(order.steps(2).has_compensation());
  EXPECT_EQ(order.steps(2).action().grpc().target(), "ship:9");
  EXPECT_TRUE(ValidateDefinition(order).ok()) << ValidateDefinition(order);
}

TEST(DescriptorImportTest, SaysWhatIsWrong) {
  EXPECT_EQ(DefinitionsFromDescriptorSet("not a descriptor set", {.fallback = "x:1"})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto no_target = DefinitionsFromDescriptorSet(ShopDescriptorSet(), {});
  EXPECT_EQ(no_target.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_target.status().message()), HasSubstr("no target for service"));

  google::protobuf::FileDescriptorSet set;
  auto* file = set.add_file();
  file->set_name("x.proto");
  file->set_package("x");
  auto* method = file->add_service()->add_method();
  file->mutable_service(0)->set_name("Svc");
  method->set_name("Do");
  auto* options = method->mutable_options()->MutableExtension(saga::v1::step);
  options->set_saga("s");
  options->set_compensation("Undo");
  auto unknown = DefinitionsFromDescriptorSet(set.SerializeAsString(), {.fallback = "x:1"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()),
              HasSubstr("compensation method \"Undo\" is not a method of x.Svc"));
  method->mutable_options()->ClearExtension(saga::v1::step);
  EXPECT_EQ(DefinitionsFromDescriptorSet(set.SerializeAsString(), {.fallback = "x:1"})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(DefinitionFilesTest, ReadsTextprotoFilesInNameOrderAndNamesTheBadOne) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("defs-" + NewUuid().substr(0, 8))).string();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/b.textproto") << "name: \"b\" steps { name: \"s\" }";
  std::ofstream(dir + "/a.txtpb") << "name: \"a\"";
  std::ofstream(dir + "/notes.md") << "ignored";
  auto read = ReadDefinitionDirectory(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].second.name(), "a");
  EXPECT_EQ((*read)[1].second.steps(0).name(), "s");
  std::ofstream(dir + "/c.textproto") << "name: \"c\"\nsteps { nme: \"typo\" }";
  auto bad = ReadDefinitionDirectory(dir);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("c.textproto: line 2"));
  EXPECT_EQ(ReadDefinitionDirectory(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace saga::coordinator
