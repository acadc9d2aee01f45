// The model repository (serve/repository.h): Triton's layout and config.pbtxt fields, version
// policies, and errors that name the file and field while the other models still load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "serve/repository.h"

namespace hone::serve {
namespace {

namespace fs = std::filesystem;

class Repo {
 public:
  Repo()
      : root_(fs::temp_directory_path() / fs::path("hone_repo_" + std::to_string(::getpid()) + "_" +
                                                   std::to_string(counter_++))) {
    fs::create_directories(root_);
  }
  ~Repo() { fs::remove_all(root_); }
  void Version(const std::string& model, const std::string& version,
               const std::string& file = "model.onnx") {
    fs::create_directories(root_ / model / version);
    std::ofstream(root_ / model / version / file) << "onnx bytes";
  }
  void Config(const std::string& model, const std::string& text) {
    fs::create_directories(root_ / model);
    std::ofstream(root_ / model / "config.pbtxt") << text;
  }
  std::string path() const { return root_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

TEST(Repository, ReadsTritonsConfigFields) {
  Repo r;
  r.Version("resnet", "1");
  r.Version("resnet", "2");
  r.Config("resnet", R"(
name: "resnet"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, -1, -1 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 1000 ] } ]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 500
  preserve_ordering: true
  default_queue_policy { max_queue_size: 16 default_timeout_microseconds: 2000 timeout_action: DELAY }
}
instance_group [ { count: 2 kind: KIND_CPU } ]
response_cache { enable: true }
version_policy: { all { } }
)");
  const RepositoryScan scan = ScanRepository(r.path());
  ASSERT_TRUE(scan.errors.empty()) << scan.errors[0];
  ASSERT_EQ(scan.models.size(), 1u);
  const ModelEntry& m = scan.models[0];
  EXPECT_EQ(m.name, "resnet");
  EXPECT_EQ(m.versions, (std::vector<int64_t>{1, 2}));
  const ModelSpec& s = m.spec;
  EXPECT_EQ(s.max_batch_size, 8);
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].name, "x");
  EXPECT_EQ(s.inputs[0].dtype, DataType::kFloat32);
  EXPECT_EQ(s.inputs[0].dims, (std::vector<int64_t>{3, -1, -1}));
  EXPECT_EQ(s.outputs[0].dims, (std::vector<int64_t>{1000}));
  EXPECT_TRUE(s.dynamic_batching);
  EXPECT_EQ(s.batcher.max_batch_size, 8);
  EXPECT_EQ(s.batcher.preferred_batch_sizes, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(s.batcher.max_queue_delay_us, 500);
  EXPECT_TRUE(s.batcher.preserve_ordering);
  EXPECT_EQ(s.batcher.max_queue_size, 16);
  EXPECT_EQ(s.batcher.default_timeout_us, 2000);
  EXPECT_EQ(s.batcher.timeout_action, TimeoutAction::kDelay);
  EXPECT_EQ(s.instances, 2);
  EXPECT_TRUE(s.response_cache);
  EXPECT_EQ(m.ModelPath(2), (fs::path(r.path()) / "resnet" / "2" / "model.onnx").string());
}

TEST(Repository, DefaultsVersionPoliciesAndSkippedFolders) {
  Repo r;
  r.Version("plain", "1");
  r.Version("plain", "3");
  r.Version("plain", "latest");  // not a number: ignored with a warning
  fs::create_directories(fs::path(r.path()) / "plain" / "7");  // no model file: skipped
  r.Version("picked", "1");
  r.Version("picked", "2");
  r.Version("picked", "5");
  r.Config("picked", "version_policy: { specific { versions: [1, 5] } }");
  r.Version("two", "1");
  r.Version("two", "2");
  r.Version("two", "3");
  r.Config("two", "version_policy: { latest { num_versions: 2 } }\noptimization { priority: 1 }");
  const RepositoryScan scan = ScanRepository(r.path());
  ASSERT_TRUE(scan.errors.empty()) << scan.errors[0];
  ASSERT_EQ(scan.models.size(), 3u);
  const ModelEntry& picked = scan.models[0];
  const ModelEntry& plain = scan.models[1];
  const ModelEntry& two = scan.models[2];
  EXPECT_EQ(plain.versions, (std::vector<int64_t>{3}));  // latest 1 by default
  EXPECT_EQ(plain.spec.max_batch_size, 0);
  EXPECT_TRUE(plain.spec.inputs.empty());  // completed from the model at load
  EXPECT_EQ(plain.warnings.size(), 2u);
  EXPECT_EQ(picked.versions, (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(two.versions, (std::vector<int64_t>{2, 3}));
  // A field Triton has and hone does not use is skipped with a warning naming it.
  ASSERT_EQ(two.warnings.size(), 1u);
  EXPECT_NE(two.warnings[0].find("optimization"), std::string::npos) << two.warnings[0];
}

TEST(Repository, BadConfigsNameTheFileAndFieldAndTheOthersStillLoad) {
  Repo r;
  r.Version("good", "1");
  struct Bad {
    const char* model;
    const char* config;
    const char* expect;  // in the error
  };
  const Bad bad[] = {
      {"typo", "max_batch_sise: 4", "max_batch_sise"},
      {"syntax", "max_batch_size: 4\ninput [ { name: \"x\" ", "config.pbtxt:"},
      {"negative", "max_batch_size: -2", "max_batch_size: must be >= 0"},
      {"preferred", "max_batch_size: 4\ndynamic_batching { preferred_batch_size: [ 8 ] }",
       "preferred_batch_size: 8"},
      {"nobatch", "dynamic_batching { }", "needs max_batch_size > 0"},
      {"dtype", "input [ { name: \"x\" dims: [ 2 ] } ]", "input[0] 'x': data_type"},
      {"dims", "input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 0 ] } ]", "dims: 0"},
      {"gpu", "instance_group [ { kind: KIND_GPU } ]", "instance_group[0].kind: KIND_GPU"},
      {"renamed", "name: \"other\"", "differs from the model's directory name"},
      {"missing", "version_policy: { specific { versions: [ 4 ] } }", "version 4"},
  };
  for (const Bad& b : bad) {
    r.Version(b.model, "1");
    r.Config(b.model, b.config);
  }
  r.Config("empty", "");  // a model folder without versions
  const RepositoryScan scan = ScanRepository(r.path());
  ASSERT_EQ(scan.models.size(), 1u);
  EXPECT_EQ(scan.models[0].name, "good");
  ASSERT_EQ(scan.errors.size(), std::size(bad) + 1);
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.model);
    bool found = false;
    for (const std::string& e : scan.errors)
      if (e.find(std::string("/") + b.model + "/config.pbtxt") != std::string::npos) {
        found = true;
        EXPECT_NE(e.find(b.expect), std::string::npos) << e;
      }
    EXPECT_TRUE(found);
  }
  auto one = ScanModel(r.path(), "nope");
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("nope"), std::string::npos);
}

}  // namespace
}  // namespace hone::serve
