// Reads the ELF headers of the built binaries: PIE, full RELRO, non-executable
// stack and stack protector, as the build promises.
#include <elf.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

struct ElfFacts {
  bool parsed = false;
  bool pie = false;        // ET_DYN with an interpreter
  bool relro = false;      // PT_GNU_RELRO present
  bool bind_now = false;   // DT_FLAGS has DF_BIND_NOW or DT_FLAGS_1 has DF_1_NOW
  bool exec_stack = true;  // PT_GNU_STACK has PF_X
  bool stack_chk = false;  // references __stack_chk_fail
};

template <typename T>
bool ReadAt(const std::string& data, size_t off, T* out) {
  if (off > data.size() || data.size() - off < sizeof(T)) return false;
  std::memcpy(out, data.data() + off, sizeof(T));
  return true;
}

// InspectElf64 parses a 64-bit little-endian ELF image.
ElfFacts InspectElf64(const std::string& data) {
  ElfFacts f;
  Elf64_Ehdr eh;
  if (!ReadAt(data, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return f;
  }
  bool has_interp = false;
  Elf64_Off dyn_off = 0;
  Elf64_Xword dyn_size = 0;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!ReadAt(data, eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize, &ph)) return f;
    if (ph.p_type == PT_INTERP) has_interp = true;
    if (ph.p_type == PT_GNU_RELRO) f.relro = true;
    if (ph.p_type == PT_GNU_STACK) f.exec_stack = (ph.p_flags & PF_X) != 0;
    if (ph.p_type == PT_DYNAMIC) {
      dyn_off = ph.p_offset;
      dyn_size = ph.p_filesz;
    }
  }
  f.pie = eh.e_type == ET_DYN && has_interp;
  for (Elf64_Xword off = 0; off + sizeof(Elf64_Dyn) <= dyn_size; off += sizeof(Elf64_Dyn)) {
    Elf64_Dyn d;
    if (!ReadAt(data, dyn_off + off, &d)) break;
    if (d.d_tag == DT_BIND_NOW) f.bind_now = true;
    if (d.d_tag == DT_FLAGS && (d.d_un.d_val & DF_BIND_NOW)) f.bind_now = true;
    if (d.d_tag == DT_FLAGS_1 && (d.d_un.d_val & DF_1_NOW)) f.bind_now = true;
  }
  f.stack_chk = data.find(std::string("__stack_chk_fail\0", 17)) != std::string::npos;
  f.parsed = true;
  return f;
}

class ElfHardeningTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ElfHardeningTest, BinaryIsHardened) {
  std::string path = testutil::BuildDir() + "/" + GetParam();
  std::string data = testutil::ReadFile(path);
  ASSERT_FALSE(data.empty()) << "cannot read " << path;
  ElfFacts f = InspectElf64(data);
  ASSERT_TRUE(f.parsed) << path << " is not a 64-bit ELF file";
  EXPECT_TRUE(f.pie) << path << " is not PIE";
  EXPECT_TRUE(f.relro) << path << " has no PT_GNU_RELRO";
  EXPECT_TRUE(f.bind_now) << path << " is not linked with -z now (partial RELRO only)";
  EXPECT_FALSE(f.exec_stack) << path << " has an executable stack";
  EXPECT_TRUE(f.stack_chk) << path << " was not built with a stack protector";
}

INSTANTIATE_TEST_SUITE_P(Binaries, ElfHardeningTest,
                         ::testing::Values("server/signet-server", "agent/signet-agent"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find('/'));
                         });

}  // namespace
}  // namespace signet
