#include "hone/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace hone {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("hone_npy_test_" + name)).string();
}

TEST(Npy, RoundTripsEveryNumericDtype) {
  for (DataType d : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kInt8,
                     DataType::kInt16, DataType::kInt32, DataType::kInt64, DataType::kUInt8,
                     DataType::kUInt16, DataType::kUInt32, DataType::kUInt64, DataType::kBool}) {
    Tensor t = Tensor::Empty(d, {2, 3});
    auto* bytes = static_cast<unsigned char*>(t.raw_data());
    for (size_t i = 0; i < t.nbytes(); ++i)
      bytes[i] = static_cast<unsigned char>(d == DataType::kBool ? i % 2 : i * 7 + 1);
    std::string p = TempPath(DataTypeName(d));
    ASSERT_TRUE(WriteNpy(p, t).ok()) << DataTypeName(d);
    auto r = ReadNpy(p);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->dtype(), d);
    EXPECT_EQ(r->shape(), t.shape());
    EXPECT_EQ(0, std::memcmp(r->raw_data(), t.raw_data(), t.nbytes())) << DataTypeName(d);
    std::remove(p.c_str());
  }
}

TEST(Npy, StringsRoundTripAsUtf32AndReadBytes) {
  Tensor t = Tensor::Empty(DataType::kString, {2, 2});
  const std::string want[] = {"city_01", "", "z\xc3\xbcrich",
                              "\xe2\x82\xac"
                              "5"};  // zurich, EUR
  for (int i = 0; i < 4; ++i) t.data<std::string>()[i] = want[i];
  const std::string p = TempPath("strings");
  ASSERT_TRUE(WriteNpy(p, t).ok());
  auto r = ReadNpy(p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dtype(), DataType::kString);
  EXPECT_EQ(r->shape(), t.shape());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r->data<std::string>()[i], want[i]) << i;
  std::remove(p.c_str());
  // NumPy's bytes dtype ('|S3'): NUL-padded.
  std::string header = "{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header.push_back('\n');
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file.push_back(static_cast<char>(header.size()));
  file.push_back('\0');
  file += header + std::string("ab\0xyz", 6);
  auto b = ParseNpy(file, "bytes");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->data<std::string>()[0], "ab");
  EXPECT_EQ(b->data<std::string>()[1], "xyz");
  EXPECT_FALSE(ParseNpy(file.substr(0, file.size() - 2), "short").ok());
}

TEST(Npy, ScalarAndOneDimShapes) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {5}, {0, 4}}) {
    Tensor t = Tensor::Empty(DataType::kFloat32, shape);
    std::string p = TempPath("shape");
    ASSERT_TRUE(WriteNpy(p, t).ok());
    auto r = ReadNpy(p);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->shape(), shape);
  }
}

std::string Header(const std::string& dict, int major = 1) {
  std::string h = "\x93NUMPY";
  h += static_cast<char>(major);
  h += '\0';
  std::string d = dict + "\n";
  if (major == 1) {
    h += static_cast<char>(d.size() & 0xff);
    h += static_cast<char>(d.size() >> 8);
  } else {
    uint32_t n = static_cast<uint32_t>(d.size());
    h.append(reinterpret_cast<const char*>(&n), 4);
  }
  return h + d;
}

TEST(Npy, ReadsVersion2And3) {
  for (int major : {2, 3}) {
    std::string bytes = Header("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", major);
    int32_t v[2] = {7, -3};
    bytes.append(reinterpret_cast<const char*>(v), 8);
    auto r = ParseNpy(bytes);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->data<int32_t>()[1], -3);
  }
}

TEST(Npy, RejectsBadFilesWithClearErrors) {
  auto expect_error = [](const std::string& bytes, const std::string& needle) {
    auto r = ParseNpy(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_error("hello", "not a .npy file");
  expect_error(Header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"), "Fortran");
  expect_error(Header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), "big-endian");
  expect_error(Header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"), "not supported");
  expect_error(Header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }") + "abc",
               "truncated");
  expect_error(Header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 9), "version 9");
  EXPECT_FALSE(ReadNpy("/nonexistent/x.npy").ok());
}

TEST(Npy, RefusesBFloat16) {
  Tensor t = Tensor::Empty(DataType::kBFloat16, {2});
  Status s = WriteNpy(TempPath("bf16"), t);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
}

}  // namespace
}  // namespace hone
