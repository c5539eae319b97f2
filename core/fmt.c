/* fmt.c - decimal formatting of doubles (see fmt.h).
 *
 * bg_fmt_double is Grisu2 (Loitsch, "Printing Floating-Point Numbers
 * Quickly and Accurately with Integers", PLDI 2010): the double and the
 * bounds of its rounding interval are scaled by a 64-bit cached power of ten
 * so that the digits come out of 64-bit integer arithmetic; the interval is
 * narrowed by one unit on each side so that any digit string inside it reads
 * back as the same double. bg_fmt_double17 computes the 17 significant
 * digits of printf("%.17g") from one 64x64-bit product with the same table,
 * and falls back to snprintf when the product is too close to a rounding
 * tie to decide. The power table was generated with exact rationals. */
#include "core/fmt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 bg_u128;

/* 10^q ~= f * 2^e, f rounded to nearest, q = -348 .. 347. Generated with exact rational arithmetic. */
#define POW10_QMIN (-348)
#define POW10_QMAX 347
static const uint64_t pow10_f[] = {
    UINT64_C(0xfa8fd5a0081c0288), UINT64_C(0x9c99e58405118195), UINT64_C(0xc3c05ee50655e1fa),
    UINT64_C(0xf4b0769e47eb5a79), UINT64_C(0x98ee4a22ecf3188c), UINT64_C(0xbf29dcaba82fdeae),
    UINT64_C(0xeef453d6923bd65a), UINT64_C(0x9558b4661b6565f8), UINT64_C(0xbaaee17fa23ebf76),
    UINT64_C(0xe95a99df8ace6f54), UINT64_C(0x91d8a02bb6c10594), UINT64_C(0xb64ec836a47146fa),
    UINT64_C(0xe3e27a444d8d98b8), UINT64_C(0x8e6d8c6ab0787f73), UINT64_C(0xb208ef855c969f50),
    UINT64_C(0xde8b2b66b3bc4724), UINT64_C(0x8b16fb203055ac76), UINT64_C(0xaddcb9e83c6b1794),
    UINT64_C(0xd953e8624b85dd79), UINT64_C(0x87d4713d6f33aa6c), UINT64_C(0xa9c98d8ccb009506),
    UINT64_C(0xd43bf0effdc0ba48), UINT64_C(0x84a57695fe98746d), UINT64_C(0xa5ced43b7e3e9188),
    UINT64_C(0xcf42894a5dce35ea), UINT64_C(0x818995ce7aa0e1b2), UINT64_C(0xa1ebfb4219491a1f),
    UINT64_C(0xca66fa129f9b60a7), UINT64_C(0xfd00b897478238d1), UINT64_C(0x9e20735e8cb16382),
    UINT64_C(0xc5a890362fddbc63), UINT64_C(0xf712b443bbd52b7c), UINT64_C(0x9a6bb0aa55653b2d),
    UINT64_C(0xc1069cd4eabe89f9), UINT64_C(0xf148440a256e2c77), UINT64_C(0x96cd2a865764dbca),
    UINT64_C(0xbc807527ed3e12bd), UINT64_C(0xeba09271e88d976c), UINT64_C(0x93445b8731587ea3),
    UINT64_C(0xb8157268fdae9e4c), UINT64_C(0xe61acf033d1a45df), UINT64_C(0x8fd0c16206306bac),
    UINT64_C(0xb3c4f1ba87bc8697), UINT64_C(0xe0b62e2929aba83c), UINT64_C(0x8c71dcd9ba0b4926),
    UINT64_C(0xaf8e5410288e1b6f), UINT64_C(0xdb71e91432b1a24b), UINT64_C(0x892731ac9faf056f),
    UINT64_C(0xab70fe17c79ac6ca), UINT64_C(0xd64d3d9db981787d), UINT64_C(0x85f0468293f0eb4e),
    UINT64_C(0xa76c582338ed2622), UINT64_C(0xd1476e2c07286faa), UINT64_C(0x82cca4db847945ca),
    UINT64_C(0xa37fce126597973d), UINT64_C(0xcc5fc196fefd7d0c), UINT64_C(0xff77b1fcbebcdc4f),
    UINT64_C(0x9faacf3df73609b1), UINT64_C(0xc795830d75038c1e), UINT64_C(0xf97ae3d0d2446f25),
    UINT64_C(0x9becce62836ac577), UINT64_C(0xc2e801fb244576d5), UINT64_C(0xf3a20279ed56d48a),
    UINT64_C(0x9845418c345644d7), UINT64_C(0xbe5691ef416bd60c), UINT64_C(0xedec366b11c6cb8f),
    UINT64_C(0x94b3a202eb1c3f39), UINT64_C(0xb9e08a83a5e34f08), UINT64_C(0xe858ad248f5c22ca),
    UINT64_C(0x91376c36d99995be), UINT64_C(0xb58547448ffffb2e), UINT64_C(0xe2e69915b3fff9f9),
    UINT64_C(0x8dd01fad907ffc3c), UINT64_C(0xb1442798f49ffb4b), UINT64_C(0xdd95317f31c7fa1d),
    UINT64_C(0x8a7d3eef7f1cfc52), UINT64_C(0xad1c8eab5ee43b67), UINT64_C(0xd863b256369d4a41),
    UINT64_C(0x873e4f75e2224e68), UINT64_C(0xa90de3535aaae202), UINT64_C(0xd3515c2831559a83),
    UINT64_C(0x8412d9991ed58092), UINT64_C(0xa5178fff668ae0b6), UINT64_C(0xce5d73ff402d98e4),
    UINT64_C(0x80fa687f881c7f8e), UINT64_C(0xa139029f6a239f72), UINT64_C(0xc987434744ac874f),
    UINT64_C(0xfbe9141915d7a922), UINT64_C(0x9d71ac8fada6c9b5), UINT64_C(0xc4ce17b399107c23),
    UINT64_C(0xf6019da07f549b2b), UINT64_C(0x99c102844f94e0fb), UINT64_C(0xc0314325637a193a),
    UINT64_C(0xf03d93eebc589f88), UINT64_C(0x96267c7535b763b5), UINT64_C(0xbbb01b9283253ca3),
    UINT64_C(0xea9c227723ee8bcb), UINT64_C(0x92a1958a7675175f), UINT64_C(0xb749faed14125d37),
    UINT64_C(0xe51c79a85916f485), UINT64_C(0x8f31cc0937ae58d3), UINT64_C(0xb2fe3f0b8599ef08),
    UINT64_C(0xdfbdcece67006ac9), UINT64_C(0x8bd6a141006042be), UINT64_C(0xaecc49914078536d),
    UINT64_C(0xda7f5bf590966849), UINT64_C(0x888f99797a5e012d), UINT64_C(0xaab37fd7d8f58179),
    UINT64_C(0xd5605fcdcf32e1d7), UINT64_C(0x855c3be0a17fcd26), UINT64_C(0xa6b34ad8c9dfc070),
    UINT64_C(0xd0601d8efc57b08c), UINT64_C(0x823c12795db6ce57), UINT64_C(0xa2cb1717b52481ed),
    UINT64_C(0xcb7ddcdda26da269), UINT64_C(0xfe5d54150b090b03), UINT64_C(0x9efa548d26e5a6e2),
    UINT64_C(0xc6b8e9b0709f109a), UINT64_C(0xf867241c8cc6d4c1), UINT64_C(0x9b407691d7fc44f8),
    UINT64_C(0xc21094364dfb5637), UINT64_C(0xf294b943e17a2bc4), UINT64_C(0x979cf3ca6cec5b5b),
    UINT64_C(0xbd8430bd08277231), UINT64_C(0xece53cec4a314ebe), UINT64_C(0x940f4613ae5ed137),
    UINT64_C(0xb913179899f68584), UINT64_C(0xe757dd7ec07426e5), UINT64_C(0x9096ea6f3848984f),
    UINT64_C(0xb4bca50b065abe63), UINT64_C(0xe1ebce4dc7f16dfc), UINT64_C(0x8d3360f09cf6e4bd),
    UINT64_C(0xb080392cc4349ded), UINT64_C(0xdca04777f541c568), UINT64_C(0x89e42caaf9491b61),
    UINT64_C(0xac5d37d5b79b6239), UINT64_C(0xd77485cb25823ac7), UINT64_C(0x86a8d39ef77164bd),
    UINT64_C(0xa8530886b54dbdec), UINT64_C(0xd267caa862a12d67), UINT64_C(0x8380dea93da4bc60),
    UINT64_C(0xa46116538d0deb78), UINT64_C(0xcd795be870516656), UINT64_C(0x806bd9714632dff6),
    UINT64_C(0xa086cfcd97bf97f4), UINT64_C(0xc8a883c0fdaf7df0), UINT64_C(0xfad2a4b13d1b5d6c),
    UINT64_C(0x9cc3a6eec6311a64), UINT64_C(0xc3f490aa77bd60fd), UINT64_C(0xf4f1b4d515acb93c),
    UINT64_C(0x991711052d8bf3c5), UINT64_C(0xbf5cd54678eef0b7), UINT64_C(0xef340a98172aace5),
    UINT64_C(0x9580869f0e7aac0f), UINT64_C(0xbae0a846d2195713), UINT64_C(0xe998d258869facd7),
    UINT64_C(0x91ff83775423cc06), UINT64_C(0xb67f6455292cbf08), UINT64_C(0xe41f3d6a7377eeca),
    UINT64_C(0x8e938662882af53e), UINT64_C(0xb23867fb2a35b28e), UINT64_C(0xdec681f9f4c31f31),
    UINT64_C(0x8b3c113c38f9f37f), UINT64_C(0xae0b158b4738705f), UINT64_C(0xd98ddaee19068c76),
    UINT64_C(0x87f8a8d4cfa417ca), UINT64_C(0xa9f6d30a038d1dbc), UINT64_C(0xd47487cc8470652b),
    UINT64_C(0x84c8d4dfd2c63f3b), UINT64_C(0xa5fb0a17c777cf0a), UINT64_C(0xcf79cc9db955c2cc),
    UINT64_C(0x81ac1fe293d599c0), UINT64_C(0xa21727db38cb0030), UINT64_C(0xca9cf1d206fdc03c),
    UINT64_C(0xfd442e4688bd304b), UINT64_C(0x9e4a9cec15763e2f), UINT64_C(0xc5dd44271ad3cdba),
    UINT64_C(0xf7549530e188c129), UINT64_C(0x9a94dd3e8cf578ba), UINT64_C(0xc13a148e3032d6e8),
    UINT64_C(0xf18899b1bc3f8ca2), UINT64_C(0x96f5600f15a7b7e5), UINT64_C(0xbcb2b812db11a5de),
    UINT64_C(0xebdf661791d60f56), UINT64_C(0x936b9fcebb25c996), UINT64_C(0xb84687c269ef3bfb),
    UINT64_C(0xe65829b3046b0afa), UINT64_C(0x8ff71a0fe2c2e6dc), UINT64_C(0xb3f4e093db73a093),
    UINT64_C(0xe0f218b8d25088b8), UINT64_C(0x8c974f7383725573), UINT64_C(0xafbd2350644eead0),
    UINT64_C(0xdbac6c247d62a584), UINT64_C(0x894bc396ce5da772), UINT64_C(0xab9eb47c81f5114f),
    UINT64_C(0xd686619ba27255a3), UINT64_C(0x8613fd0145877586), UINT64_C(0xa798fc4196e952e7),
    UINT64_C(0xd17f3b51fca3a7a1), UINT64_C(0x82ef85133de648c5), UINT64_C(0xa3ab66580d5fdaf6),
    UINT64_C(0xcc963fee10b7d1b3), UINT64_C(0xffbbcfe994e5c620), UINT64_C(0x9fd561f1fd0f9bd4),
    UINT64_C(0xc7caba6e7c5382c9), UINT64_C(0xf9bd690a1b68637b), UINT64_C(0x9c1661a651213e2d),
    UINT64_C(0xc31bfa0fe5698db8), UINT64_C(0xf3e2f893dec3f126), UINT64_C(0x986ddb5c6b3a76b8),
    UINT64_C(0xbe89523386091466), UINT64_C(0xee2ba6c0678b597f), UINT64_C(0x94db483840b717f0),
    UINT64_C(0xba121a4650e4ddec), UINT64_C(0xe896a0d7e51e1566), UINT64_C(0x915e2486ef32cd60),
    UINT64_C(0xb5b5ada8aaff80b8), UINT64_C(0xe3231912d5bf60e6), UINT64_C(0x8df5efabc5979c90),
    UINT64_C(0xb1736b96b6fd83b4), UINT64_C(0xddd0467c64bce4a1), UINT64_C(0x8aa22c0dbef60ee4),
    UINT64_C(0xad4ab7112eb3929e), UINT64_C(0xd89d64d57a607745), UINT64_C(0x87625f056c7c4a8b),
    UINT64_C(0xa93af6c6c79b5d2e), UINT64_C(0xd389b47879823479), UINT64_C(0x843610cb4bf160cc),
    UINT64_C(0xa54394fe1eedb8ff), UINT64_C(0xce947a3da6a9273e), UINT64_C(0x811ccc668829b887),
    UINT64_C(0xa163ff802a3426a9), UINT64_C(0xc9bcff6034c13053), UINT64_C(0xfc2c3f3841f17c68),
    UINT64_C(0x9d9ba7832936edc1), UINT64_C(0xc5029163f384a931), UINT64_C(0xf64335bcf065d37d),
    UINT64_C(0x99ea0196163fa42e), UINT64_C(0xc06481fb9bcf8d3a), UINT64_C(0xf07da27a82c37088),
    UINT64_C(0x964e858c91ba2655), UINT64_C(0xbbe226efb628afeb), UINT64_C(0xeadab0aba3b2dbe5),
    UINT64_C(0x92c8ae6b464fc96f), UINT64_C(0xb77ada0617e3bbcb), UINT64_C(0xe55990879ddcaabe),
    UINT64_C(0x8f57fa54c2a9eab7), UINT64_C(0xb32df8e9f3546564), UINT64_C(0xdff9772470297ebd),
    UINT64_C(0x8bfbea76c619ef36), UINT64_C(0xaefae51477a06b04), UINT64_C(0xdab99e59958885c5),
    UINT64_C(0x88b402f7fd75539b), UINT64_C(0xaae103b5fcd2a882), UINT64_C(0xd59944a37c0752a2),
    UINT64_C(0x857fcae62d8493a5), UINT64_C(0xa6dfbd9fb8e5b88f), UINT64_C(0xd097ad07a71f26b2),
    UINT64_C(0x825ecc24c8737830), UINT64_C(0xa2f67f2dfa90563b), UINT64_C(0xcbb41ef979346bca),
    UINT64_C(0xfea126b7d78186bd), UINT64_C(0x9f24b832e6b0f436), UINT64_C(0xc6ede63fa05d3144),
    UINT64_C(0xf8a95fcf88747d94), UINT64_C(0x9b69dbe1b548ce7d), UINT64_C(0xc24452da229b021c),
    UINT64_C(0xf2d56790ab41c2a3), UINT64_C(0x97c560ba6b0919a6), UINT64_C(0xbdb6b8e905cb600f),
    UINT64_C(0xed246723473e3813), UINT64_C(0x9436c0760c86e30c), UINT64_C(0xb94470938fa89bcf),
    UINT64_C(0xe7958cb87392c2c3), UINT64_C(0x90bd77f3483bb9ba), UINT64_C(0xb4ecd5f01a4aa828),
    UINT64_C(0xe2280b6c20dd5232), UINT64_C(0x8d590723948a535f), UINT64_C(0xb0af48ec79ace837),
    UINT64_C(0xdcdb1b2798182245), UINT64_C(0x8a08f0f8bf0f156b), UINT64_C(0xac8b2d36eed2dac6),
    UINT64_C(0xd7adf884aa879177), UINT64_C(0x86ccbb52ea94baeb), UINT64_C(0xa87fea27a539e9a5),
    UINT64_C(0xd29fe4b18e88640f), UINT64_C(0x83a3eeeef9153e89), UINT64_C(0xa48ceaaab75a8e2b),
    UINT64_C(0xcdb02555653131b6), UINT64_C(0x808e17555f3ebf12), UINT64_C(0xa0b19d2ab70e6ed6),
    UINT64_C(0xc8de047564d20a8c), UINT64_C(0xfb158592be068d2f), UINT64_C(0x9ced737bb6c4183d),
    UINT64_C(0xc428d05aa4751e4d), UINT64_C(0xf53304714d9265e0), UINT64_C(0x993fe2c6d07b7fac),
    UINT64_C(0xbf8fdb78849a5f97), UINT64_C(0xef73d256a5c0f77d), UINT64_C(0x95a8637627989aae),
    UINT64_C(0xbb127c53b17ec159), UINT64_C(0xe9d71b689dde71b0), UINT64_C(0x9226712162ab070e),
    UINT64_C(0xb6b00d69bb55c8d1), UINT64_C(0xe45c10c42a2b3b06), UINT64_C(0x8eb98a7a9a5b04e3),
    UINT64_C(0xb267ed1940f1c61c), UINT64_C(0xdf01e85f912e37a3), UINT64_C(0x8b61313bbabce2c6),
    UINT64_C(0xae397d8aa96c1b78), UINT64_C(0xd9c7dced53c72256), UINT64_C(0x881cea14545c7575),
    UINT64_C(0xaa242499697392d3), UINT64_C(0xd4ad2dbfc3d07788), UINT64_C(0x84ec3c97da624ab5),
    UINT64_C(0xa6274bbdd0fadd62), UINT64_C(0xcfb11ead453994ba), UINT64_C(0x81ceb32c4b43fcf5),
    UINT64_C(0xa2425ff75e14fc32), UINT64_C(0xcad2f7f5359a3b3e), UINT64_C(0xfd87b5f28300ca0e),
    UINT64_C(0x9e74d1b791e07e48), UINT64_C(0xc612062576589ddb), UINT64_C(0xf79687aed3eec551),
    UINT64_C(0x9abe14cd44753b53), UINT64_C(0xc16d9a0095928a27), UINT64_C(0xf1c90080baf72cb1),
    UINT64_C(0x971da05074da7bef), UINT64_C(0xbce5086492111aeb), UINT64_C(0xec1e4a7db69561a5),
    UINT64_C(0x9392ee8e921d5d07), UINT64_C(0xb877aa3236a4b449), UINT64_C(0xe69594bec44de15b),
    UINT64_C(0x901d7cf73ab0acd9), UINT64_C(0xb424dc35095cd80f), UINT64_C(0xe12e13424bb40e13),
    UINT64_C(0x8cbccc096f5088cc), UINT64_C(0xafebff0bcb24aaff), UINT64_C(0xdbe6fecebdedd5bf),
    UINT64_C(0x89705f4136b4a597), UINT64_C(0xabcc77118461cefd), UINT64_C(0xd6bf94d5e57a42bc),
    UINT64_C(0x8637bd05af6c69b6), UINT64_C(0xa7c5ac471b478423), UINT64_C(0xd1b71758e219652c),
    UINT64_C(0x83126e978d4fdf3b), UINT64_C(0xa3d70a3d70a3d70a), UINT64_C(0xcccccccccccccccd),
    UINT64_C(0x8000000000000000), UINT64_C(0xa000000000000000), UINT64_C(0xc800000000000000),
    UINT64_C(0xfa00000000000000), UINT64_C(0x9c40000000000000), UINT64_C(0xc350000000000000),
    UINT64_C(0xf424000000000000), UINT64_C(0x9896800000000000), UINT64_C(0xbebc200000000000),
    UINT64_C(0xee6b280000000000), UINT64_C(0x9502f90000000000), UINT64_C(0xba43b74000000000),
    UINT64_C(0xe8d4a51000000000), UINT64_C(0x9184e72a00000000), UINT64_C(0xb5e620f480000000),
    UINT64_C(0xe35fa931a0000000), UINT64_C(0x8e1bc9bf04000000), UINT64_C(0xb1a2bc2ec5000000),
    UINT64_C(0xde0b6b3a76400000), UINT64_C(0x8ac7230489e80000), UINT64_C(0xad78ebc5ac620000),
    UINT64_C(0xd8d726b7177a8000), UINT64_C(0x878678326eac9000), UINT64_C(0xa968163f0a57b400),
    UINT64_C(0xd3c21bcecceda100), UINT64_C(0x84595161401484a0), UINT64_C(0xa56fa5b99019a5c8),
    UINT64_C(0xcecb8f27f4200f3a), UINT64_C(0x813f3978f8940984), UINT64_C(0xa18f07d736b90be5),
    UINT64_C(0xc9f2c9cd04674edf), UINT64_C(0xfc6f7c4045812296), UINT64_C(0x9dc5ada82b70b59e),
    UINT64_C(0xc5371912364ce305), UINT64_C(0xf684df56c3e01bc7), UINT64_C(0x9a130b963a6c115c),
    UINT64_C(0xc097ce7bc90715b3), UINT64_C(0xf0bdc21abb48db20), UINT64_C(0x96769950b50d88f4),
    UINT64_C(0xbc143fa4e250eb31), UINT64_C(0xeb194f8e1ae525fd), UINT64_C(0x92efd1b8d0cf37be),
    UINT64_C(0xb7abc627050305ae), UINT64_C(0xe596b7b0c643c719), UINT64_C(0x8f7e32ce7bea5c70),
    UINT64_C(0xb35dbf821ae4f38c), UINT64_C(0xe0352f62a19e306f), UINT64_C(0x8c213d9da502de45),
    UINT64_C(0xaf298d050e4395d7), UINT64_C(0xdaf3f04651d47b4c), UINT64_C(0x88d8762bf324cd10),
    UINT64_C(0xab0e93b6efee0054), UINT64_C(0xd5d238a4abe98068), UINT64_C(0x85a36366eb71f041),
    UINT64_C(0xa70c3c40a64e6c52), UINT64_C(0xd0cf4b50cfe20766), UINT64_C(0x82818f1281ed44a0),
    UINT64_C(0xa321f2d7226895c8), UINT64_C(0xcbea6f8ceb02bb3a), UINT64_C(0xfee50b7025c36a08),
    UINT64_C(0x9f4f2726179a2245), UINT64_C(0xc722f0ef9d80aad6), UINT64_C(0xf8ebad2b84e0d58c),
    UINT64_C(0x9b934c3b330c8577), UINT64_C(0xc2781f49ffcfa6d5), UINT64_C(0xf316271c7fc3908b),
    UINT64_C(0x97edd871cfda3a57), UINT64_C(0xbde94e8e43d0c8ec), UINT64_C(0xed63a231d4c4fb27),
    UINT64_C(0x945e455f24fb1cf9), UINT64_C(0xb975d6b6ee39e437), UINT64_C(0xe7d34c64a9c85d44),
    UINT64_C(0x90e40fbeea1d3a4b), UINT64_C(0xb51d13aea4a488dd), UINT64_C(0xe264589a4dcdab15),
    UINT64_C(0x8d7eb76070a08aed), UINT64_C(0xb0de65388cc8ada8), UINT64_C(0xdd15fe86affad912),
    UINT64_C(0x8a2dbf142dfcc7ab), UINT64_C(0xacb92ed9397bf996), UINT64_C(0xd7e77a8f87daf7fc),
    UINT64_C(0x86f0ac99b4e8dafd), UINT64_C(0xa8acd7c0222311bd), UINT64_C(0xd2d80db02aabd62c),
    UINT64_C(0x83c7088e1aab65db), UINT64_C(0xa4b8cab1a1563f52), UINT64_C(0xcde6fd5e09abcf27),
    UINT64_C(0x80b05e5ac60b6178), UINT64_C(0xa0dc75f1778e39d6), UINT64_C(0xc913936dd571c84c),
    UINT64_C(0xfb5878494ace3a5f), UINT64_C(0x9d174b2dcec0e47b), UINT64_C(0xc45d1df942711d9a),
    UINT64_C(0xf5746577930d6501), UINT64_C(0x9968bf6abbe85f20), UINT64_C(0xbfc2ef456ae276e9),
    UINT64_C(0xefb3ab16c59b14a3), UINT64_C(0x95d04aee3b80ece6), UINT64_C(0xbb445da9ca61281f),
    UINT64_C(0xea1575143cf97227), UINT64_C(0x924d692ca61be758), UINT64_C(0xb6e0c377cfa2e12e),
    UINT64_C(0xe498f455c38b997a), UINT64_C(0x8edf98b59a373fec), UINT64_C(0xb2977ee300c50fe7),
    UINT64_C(0xdf3d5e9bc0f653e1), UINT64_C(0x8b865b215899f46d), UINT64_C(0xae67f1e9aec07188),
    UINT64_C(0xda01ee641a708dea), UINT64_C(0x884134fe908658b2), UINT64_C(0xaa51823e34a7eedf),
    UINT64_C(0xd4e5e2cdc1d1ea96), UINT64_C(0x850fadc09923329e), UINT64_C(0xa6539930bf6bff46),
    UINT64_C(0xcfe87f7cef46ff17), UINT64_C(0x81f14fae158c5f6e), UINT64_C(0xa26da3999aef774a),
    UINT64_C(0xcb090c8001ab551c), UINT64_C(0xfdcb4fa002162a63), UINT64_C(0x9e9f11c4014dda7e),
    UINT64_C(0xc646d63501a1511e), UINT64_C(0xf7d88bc24209a565), UINT64_C(0x9ae757596946075f),
    UINT64_C(0xc1a12d2fc3978937), UINT64_C(0xf209787bb47d6b85), UINT64_C(0x9745eb4d50ce6333),
    UINT64_C(0xbd176620a501fc00), UINT64_C(0xec5d3fa8ce427b00), UINT64_C(0x93ba47c980e98ce0),
    UINT64_C(0xb8a8d9bbe123f018), UINT64_C(0xe6d3102ad96cec1e), UINT64_C(0x9043ea1ac7e41393),
    UINT64_C(0xb454e4a179dd1877), UINT64_C(0xe16a1dc9d8545e95), UINT64_C(0x8ce2529e2734bb1d),
    UINT64_C(0xb01ae745b101e9e4), UINT64_C(0xdc21a1171d42645d), UINT64_C(0x899504ae72497eba),
    UINT64_C(0xabfa45da0edbde69), UINT64_C(0xd6f8d7509292d603), UINT64_C(0x865b86925b9bc5c2),
    UINT64_C(0xa7f26836f282b733), UINT64_C(0xd1ef0244af2364ff), UINT64_C(0x8335616aed761f1f),
    UINT64_C(0xa402b9c5a8d3a6e7), UINT64_C(0xcd036837130890a1), UINT64_C(0x802221226be55a65),
    UINT64_C(0xa02aa96b06deb0fe), UINT64_C(0xc83553c5c8965d3d), UINT64_C(0xfa42a8b73abbf48d),
    UINT64_C(0x9c69a97284b578d8), UINT64_C(0xc38413cf25e2d70e), UINT64_C(0xf46518c2ef5b8cd1),
    UINT64_C(0x98bf2f79d5993803), UINT64_C(0xbeeefb584aff8604), UINT64_C(0xeeaaba2e5dbf6785),
    UINT64_C(0x952ab45cfa97a0b3), UINT64_C(0xba756174393d88e0), UINT64_C(0xe912b9d1478ceb17),
    UINT64_C(0x91abb422ccb812ef), UINT64_C(0xb616a12b7fe617aa), UINT64_C(0xe39c49765fdf9d95),
    UINT64_C(0x8e41ade9fbebc27d), UINT64_C(0xb1d219647ae6b31c), UINT64_C(0xde469fbd99a05fe3),
    UINT64_C(0x8aec23d680043bee), UINT64_C(0xada72ccc20054aea), UINT64_C(0xd910f7ff28069da4),
    UINT64_C(0x87aa9aff79042287), UINT64_C(0xa99541bf57452b28), UINT64_C(0xd3fa922f2d1675f2),
    UINT64_C(0x847c9b5d7c2e09b7), UINT64_C(0xa59bc234db398c25), UINT64_C(0xcf02b2c21207ef2f),
    UINT64_C(0x8161afb94b44f57d), UINT64_C(0xa1ba1ba79e1632dc), UINT64_C(0xca28a291859bbf93),
    UINT64_C(0xfcb2cb35e702af78), UINT64_C(0x9defbf01b061adab), UINT64_C(0xc56baec21c7a1916),
    UINT64_C(0xf6c69a72a3989f5c), UINT64_C(0x9a3c2087a63f6399), UINT64_C(0xc0cb28a98fcf3c80),
    UINT64_C(0xf0fdf2d3f3c30b9f), UINT64_C(0x969eb7c47859e744), UINT64_C(0xbc4665b596706115),
    UINT64_C(0xeb57ff22fc0c795a), UINT64_C(0x9316ff75dd87cbd8), UINT64_C(0xb7dcbf5354e9bece),
    UINT64_C(0xe5d3ef282a242e82), UINT64_C(0x8fa475791a569d11), UINT64_C(0xb38d92d760ec4455),
    UINT64_C(0xe070f78d3927556b), UINT64_C(0x8c469ab843b89563), UINT64_C(0xaf58416654a6babb),
    UINT64_C(0xdb2e51bfe9d0696a), UINT64_C(0x88fcf317f22241e2), UINT64_C(0xab3c2fddeeaad25b),
    UINT64_C(0xd60b3bd56a5586f2), UINT64_C(0x85c7056562757457), UINT64_C(0xa738c6bebb12d16d),
    UINT64_C(0xd106f86e69d785c8), UINT64_C(0x82a45b450226b39d), UINT64_C(0xa34d721642b06084),
    UINT64_C(0xcc20ce9bd35c78a5), UINT64_C(0xff290242c83396ce), UINT64_C(0x9f79a169bd203e41),
    UINT64_C(0xc75809c42c684dd1), UINT64_C(0xf92e0c3537826146), UINT64_C(0x9bbcc7a142b17ccc),
    UINT64_C(0xc2abf989935ddbfe), UINT64_C(0xf356f7ebf83552fe), UINT64_C(0x98165af37b2153df),
    UINT64_C(0xbe1bf1b059e9a8d6), UINT64_C(0xeda2ee1c7064130c), UINT64_C(0x9485d4d1c63e8be8),
    UINT64_C(0xb9a74a0637ce2ee1), UINT64_C(0xe8111c87c5c1ba9a), UINT64_C(0x910ab1d4db9914a0),
    UINT64_C(0xb54d5e4a127f59c8), UINT64_C(0xe2a0b5dc971f303a), UINT64_C(0x8da471a9de737e24),
    UINT64_C(0xb10d8e1456105dad), UINT64_C(0xdd50f1996b947519), UINT64_C(0x8a5296ffe33cc930),
    UINT64_C(0xace73cbfdc0bfb7b), UINT64_C(0xd8210befd30efa5a), UINT64_C(0x8714a775e3e95c78),
    UINT64_C(0xa8d9d1535ce3b396), UINT64_C(0xd31045a8341ca07c), UINT64_C(0x83ea2b892091e44e),
    UINT64_C(0xa4e4b66b68b65d61), UINT64_C(0xce1de40642e3f4b9), UINT64_C(0x80d2ae83e9ce78f4),
    UINT64_C(0xa1075a24e4421731), UINT64_C(0xc94930ae1d529cfd), UINT64_C(0xfb9b7cd9a4a7443c),
    UINT64_C(0x9d412e0806e88aa6), UINT64_C(0xc491798a08a2ad4f), UINT64_C(0xf5b5d7ec8acb58a3),
    UINT64_C(0x9991a6f3d6bf1766), UINT64_C(0xbff610b0cc6edd3f), UINT64_C(0xeff394dcff8a948f),
    UINT64_C(0x95f83d0a1fb69cd9), UINT64_C(0xbb764c4ca7a44410), UINT64_C(0xea53df5fd18d5514),
    UINT64_C(0x92746b9be2f8552c), UINT64_C(0xb7118682dbb66a77), UINT64_C(0xe4d5e82392a40515),
    UINT64_C(0x8f05b1163ba6832d), UINT64_C(0xb2c71d5bca9023f8), UINT64_C(0xdf78e4b2bd342cf7),
    UINT64_C(0x8bab8eefb6409c1a), UINT64_C(0xae9672aba3d0c321), UINT64_C(0xda3c0f568cc4f3e9),
    UINT64_C(0x8865899617fb1871), UINT64_C(0xaa7eebfb9df9de8e), UINT64_C(0xd51ea6fa85785631),
    UINT64_C(0x8533285c936b35df), UINT64_C(0xa67ff273b8460357), UINT64_C(0xd01fef10a657842c),
    UINT64_C(0x8213f56a67f6b29c), UINT64_C(0xa298f2c501f45f43), UINT64_C(0xcb3f2f7642717713),
    UINT64_C(0xfe0efb53d30dd4d8), UINT64_C(0x9ec95d1463e8a507), UINT64_C(0xc67bb4597ce2ce49),
    UINT64_C(0xf81aa16fdc1b81db), UINT64_C(0x9b10a4e5e9913129), UINT64_C(0xc1d4ce1f63f57d73),
    UINT64_C(0xf24a01a73cf2dcd0), UINT64_C(0x976e41088617ca02), UINT64_C(0xbd49d14aa79dbc82),
    UINT64_C(0xec9c459d51852ba3), UINT64_C(0x93e1ab8252f33b46), UINT64_C(0xb8da1662e7b00a17),
    UINT64_C(0xe7109bfba19c0c9d), UINT64_C(0x906a617d450187e2), UINT64_C(0xb484f9dc9641e9db),
    UINT64_C(0xe1a63853bbd26451), UINT64_C(0x8d07e33455637eb3), UINT64_C(0xb049dc016abc5e60),
    UINT64_C(0xdc5c5301c56b75f7), UINT64_C(0x89b9b3e11b6329bb), UINT64_C(0xac2820d9623bf429),
    UINT64_C(0xd732290fbacaf134), UINT64_C(0x867f59a9d4bed6c0), UINT64_C(0xa81f301449ee8c70),
    UINT64_C(0xd226fc195c6a2f8c), UINT64_C(0x83585d8fd9c25db8), UINT64_C(0xa42e74f3d032f526),
    UINT64_C(0xcd3a1230c43fb26f), UINT64_C(0x80444b5e7aa7cf85), UINT64_C(0xa0555e361951c367),
    UINT64_C(0xc86ab5c39fa63441), UINT64_C(0xfa856334878fc151), UINT64_C(0x9c935e00d4b9d8d2),
    UINT64_C(0xc3b8358109e84f07), UINT64_C(0xf4a642e14c6262c9), UINT64_C(0x98e7e9cccfbd7dbe),
    UINT64_C(0xbf21e44003acdd2d), UINT64_C(0xeeea5d5004981478), UINT64_C(0x95527a5202df0ccb),
    UINT64_C(0xbaa718e68396cffe), UINT64_C(0xe950df20247c83fd), UINT64_C(0x91d28b7416cdd27e),
    UINT64_C(0xb6472e511c81471e), UINT64_C(0xe3d8f9e563a198e5), UINT64_C(0x8e679c2f5e44ff8f),
    UINT64_C(0xb201833b35d63f73), UINT64_C(0xde81e40a034bcf50), UINT64_C(0x8b112e86420f6192),
    UINT64_C(0xadd57a27d29339f6), UINT64_C(0xd94ad8b1c7380874), UINT64_C(0x87cec76f1c830549),
    UINT64_C(0xa9c2794ae3a3c69b), UINT64_C(0xd433179d9c8cb841), UINT64_C(0x849feec281d7f329),
    UINT64_C(0xa5c7ea73224deff3), UINT64_C(0xcf39e50feae16bf0), UINT64_C(0x81842f29f2cce376),
    UINT64_C(0xa1e53af46f801c53), UINT64_C(0xca5e89b18b602368), UINT64_C(0xfcf62c1dee382c42),
    UINT64_C(0x9e19db92b4e31ba9), UINT64_C(0xc5a05277621be294), UINT64_C(0xf70867153aa2db39),
    UINT64_C(0x9a65406d44a5c903), UINT64_C(0xc0fe908895cf3b44), UINT64_C(0xf13e34aabb430a15),
    UINT64_C(0x96c6e0eab509e64d), UINT64_C(0xbc789925624c5fe1), UINT64_C(0xeb96bf6ebadf77d9),
    UINT64_C(0x933e37a534cbaae8), UINT64_C(0xb80dc58e81fe95a1), UINT64_C(0xe61136f2227e3b0a),
    UINT64_C(0x8fcac257558ee4e6), UINT64_C(0xb3bd72ed2af29e20), UINT64_C(0xe0accfa875af45a8),
    UINT64_C(0x8c6c01c9498d8b89), UINT64_C(0xaf87023b9bf0ee6b), UINT64_C(0xdb68c2ca82ed2a06),
    UINT64_C(0x892179be91d43a44), UINT64_C(0xab69d82e364948d4), UINT64_C(0xd6444e39c3db9b0a),
    UINT64_C(0x85eab0e41a6940e6), UINT64_C(0xa7655d1d2103911f), UINT64_C(0xd13eb46469447567),
};
static const int16_t pow10_e[] = {
    -1220, -1216, -1213, -1210, -1206, -1203, -1200, -1196, -1193, -1190,
    -1186, -1183, -1180, -1176, -1173, -1170, -1166, -1163, -1160, -1156,
    -1153, -1150, -1146, -1143, -1140, -1136, -1133, -1130, -1127, -1123,
    -1120, -1117, -1113, -1110, -1107, -1103, -1100, -1097, -1093, -1090,
    -1087, -1083, -1080, -1077, -1073, -1070, -1067, -1063, -1060, -1057,
    -1053, -1050, -1047, -1043, -1040, -1037, -1034, -1030, -1027, -1024,
    -1020, -1017, -1014, -1010, -1007, -1004, -1000, -997, -994, -990,
    -987, -984, -980, -977, -974, -970, -967, -964, -960, -957,
    -954, -950, -947, -944, -940, -937, -934, -931, -927, -924,
    -921, -917, -914, -911, -907, -904, -901, -897, -894, -891,
    -887, -884, -881, -877, -874, -871, -867, -864, -861, -857,
    -854, -851, -847, -844, -841, -838, -834, -831, -828, -824,
    -821, -818, -814, -811, -808, -804, -801, -798, -794, -791,
    -788, -784, -781, -778, -774, -771, -768, -764, -761, -758,
    -754, -751, -748, -744, -741, -738, -735, -731, -728, -725,
    -721, -718, -715, -711, -708, -705, -701, -698, -695, -691,
    -688, -685, -681, -678, -675, -671, -668, -665, -661, -658,
    -655, -651, -648, -645, -642, -638, -635, -632, -628, -625,
    -622, -618, -615, -612, -608, -605, -602, -598, -595, -592,
    -588, -585, -582, -578, -575, -572, -568, -565, -562, -558,
    -555, -552, -549, -545, -542, -539, -535, -532, -529, -525,
    -522, -519, -515, -512, -509, -505, -502, -499, -495, -492,
    -489, -485, -482, -479, -475, -472, -469, -465, -462, -459,
    -455, -452, -449, -446, -442, -439, -436, -432, -429, -426,
    -422, -419, -416, -412, -409, -406, -402, -399, -396, -392,
    -389, -386, -382, -379, -376, -372, -369, -366, -362, -359,
    -356, -353, -349, -346, -343, -339, -336, -333, -329, -326,
    -323, -319, -316, -313, -309, -306, -303, -299, -296, -293,
    -289, -286, -283, -279, -276, -273, -269, -266, -263, -259,
    -256, -253, -250, -246, -243, -240, -236, -233, -230, -226,
    -223, -220, -216, -213, -210, -206, -203, -200, -196, -193,
    -190, -186, -183, -180, -176, -173, -170, -166, -163, -160,
    -157, -153, -150, -147, -143, -140, -137, -133, -130, -127,
    -123, -120, -117, -113, -110, -107, -103, -100, -97, -93,
    -90, -87, -83, -80, -77, -73, -70, -67, -63, -60,
    -57, -54, -50, -47, -44, -40, -37, -34, -30, -27,
    -24, -20, -17, -14, -10, -7, -4, 0, 3, 6,
    10, 13, 16, 20, 23, 26, 30, 33, 36, 39,
    43, 46, 49, 53, 56, 59, 63, 66, 69, 73,
    76, 79, 83, 86, 89, 93, 96, 99, 103, 106,
    109, 113, 116, 119, 123, 126, 129, 132, 136, 139,
    142, 146, 149, 152, 156, 159, 162, 166, 169, 172,
    176, 179, 182, 186, 189, 192, 196, 199, 202, 206,
    209, 212, 216, 219, 222, 226, 229, 232, 235, 239,
    242, 245, 249, 252, 255, 259, 262, 265, 269, 272,
    275, 279, 282, 285, 289, 292, 295, 299, 302, 305,
    309, 312, 315, 319, 322, 325, 328, 332, 335, 338,
    342, 345, 348, 352, 355, 358, 362, 365, 368, 372,
    375, 378, 382, 385, 388, 392, 395, 398, 402, 405,
    408, 412, 415, 418, 422, 425, 428, 431, 435, 438,
    441, 445, 448, 451, 455, 458, 461, 465, 468, 471,
    475, 478, 481, 485, 488, 491, 495, 498, 501, 505,
    508, 511, 515, 518, 521, 524, 528, 531, 534, 538,
    541, 544, 548, 551, 554, 558, 561, 564, 568, 571,
    574, 578, 581, 584, 588, 591, 594, 598, 601, 604,
    608, 611, 614, 617, 621, 624, 627, 631, 634, 637,
    641, 644, 647, 651, 654, 657, 661, 664, 667, 671,
    674, 677, 681, 684, 687, 691, 694, 697, 701, 704,
    707, 711, 714, 717, 720, 724, 727, 730, 734, 737,
    740, 744, 747, 750, 754, 757, 760, 764, 767, 770,
    774, 777, 780, 784, 787, 790, 794, 797, 800, 804,
    807, 810, 813, 817, 820, 823, 827, 830, 833, 837,
    840, 843, 847, 850, 853, 857, 860, 863, 867, 870,
    873, 877, 880, 883, 887, 890, 893, 897, 900, 903,
    907, 910, 913, 916, 920, 923, 926, 930, 933, 936,
    940, 943, 946, 950, 953, 956, 960, 963, 966, 970,
    973, 976, 980, 983, 986, 990, 993, 996, 1000, 1003,
    1006, 1009, 1013, 1016, 1019, 1023, 1026, 1029, 1033, 1036,
    1039, 1043, 1046, 1049, 1053, 1056, 1059, 1063, 1066, 1069,
    1073, 1076, 1079, 1083, 1086, 1089,
};

/* "00".."99", for writing two digits at a time. */
static const char digit_pairs[200] = {
    '0', '0', '0', '1', '0', '2', '0', '3', '0', '4', '0', '5', '0', '6', '0',
    '7', '0', '8', '0', '9', '1', '0', '1', '1', '1', '2', '1', '3', '1', '4',
    '1', '5', '1', '6', '1', '7', '1', '8', '1', '9', '2', '0', '2', '1', '2',
    '2', '2', '3', '2', '4', '2', '5', '2', '6', '2', '7', '2', '8', '2', '9',
    '3', '0', '3', '1', '3', '2', '3', '3', '3', '4', '3', '5', '3', '6', '3',
    '7', '3', '8', '3', '9', '4', '0', '4', '1', '4', '2', '4', '3', '4', '4',
    '4', '5', '4', '6', '4', '7', '4', '8', '4', '9', '5', '0', '5', '1', '5',
    '2', '5', '3', '5', '4', '5', '5', '5', '6', '5', '7', '5', '8', '5', '9',
    '6', '0', '6', '1', '6', '2', '6', '3', '6', '4', '6', '5', '6', '6', '6',
    '7', '6', '8', '6', '9', '7', '0', '7', '1', '7', '2', '7', '3', '7', '4',
    '7', '5', '7', '6', '7', '7', '7', '8', '7', '9', '8', '0', '8', '1', '8',
    '2', '8', '3', '8', '4', '8', '5', '8', '6', '8', '7', '8', '8', '8', '9',
    '9', '0', '9', '1', '9', '2', '9', '3', '9', '4', '9', '5', '9', '6', '9',
    '7', '9', '8', '9', '9'};

static const uint64_t pow10_u64[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

#define DBL_HIDDEN (UINT64_C(1) << 52)
#define DBL_FRAC_MASK (DBL_HIDDEN - 1)

/* A floating-point number f * 2^e with a 64-bit significand. */
typedef struct {
    uint64_t f;
    int e;
} diyfp;

static uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* v = f * 2^e exactly, for finite v != 0 (sign dropped). */
static diyfp diyfp_of(uint64_t bits)
{
    uint64_t frac = bits & DBL_FRAC_MASK;
    int bexp = (int)((bits >> 52) & 0x7ff);
    if (bexp == 0)
        return (diyfp){frac, 1 - 1075};
    return (diyfp){frac | DBL_HIDDEN, bexp - 1075};
}

static diyfp diyfp_normalize(diyfp x)
{
    int s = __builtin_clzll(x.f);
    return (diyfp){x.f << s, x.e - s};
}

/* The upper 64 bits of a*b, rounded; exponents add. */
static diyfp diyfp_mul(diyfp a, diyfp b)
{
    bg_u128 p = (bg_u128)a.f * b.f;
    uint64_t hi = (uint64_t)(p >> 64);
    uint64_t lo = (uint64_t)p;
    return (diyfp){hi + (lo >> 63), a.e + b.e + 64};
}

/* floor(log10(2^b)) for |b| < 1700. */
static int floor_log10_pow2(int b)
{
    long t = (long)b * 78913L;
    return (int)(t >= 0 ? t / 262144L : -((-t + 262143L) / 262144L));
}

/* The table index of the cached power 10^q whose product with a
 * significand of exponent e has the smallest exponent in [-60, -32]: the
 * lowest exponent leaves 1-2 digits above the binary point, and digits below
 * it cost a multiply each instead of a division. */
static int cached_power_for(int e, int *q_out)
{
    /* q * log2(10) - 63 + e + 64 >= -60 */
    int q = floor_log10_pow2(-62 - e);
    if (q < POW10_QMIN)
        q = POW10_QMIN;
    if (q > POW10_QMAX)
        q = POW10_QMAX;
    while (q < POW10_QMAX && pow10_e[q - POW10_QMIN] + e + 64 < -60)
        q++;
    while (q > POW10_QMIN && pow10_e[q - 1 - POW10_QMIN] + e + 64 >= -60)
        q--;
    *q_out = q;
    return q - POW10_QMIN;
}

static int count_digits_small(uint32_t n)
{
    return n >= 100 ? 3 : n >= 10 ? 2 : 1;
}

/* Move the last digit down while that brings the digits closer to the
 * double and stays inside the (narrowed) interval. */
static void grisu_round(char *buf, int len, uint64_t delta, uint64_t rest,
                        uint64_t ten_kappa, uint64_t wp_w)
{
    while (rest < wp_w && delta - rest >= ten_kappa &&
           (rest + ten_kappa < wp_w ||
            wp_w - rest > rest + ten_kappa - wp_w)) {
        buf[len - 1]--;
        rest += ten_kappa;
    }
}

/* Generate the digits of Wp down to the precision delta allows. Returns
 * the digit count; *k is updated to the decimal exponent of the last
 * digit. */
static int grisu_digits(diyfp w, diyfp wp, uint64_t delta, char *buf, int *k)
{
    int shift = -wp.e;
    uint64_t one = UINT64_C(1) << shift;
    uint64_t wp_w = wp.f - w.f;
    uint32_t p1 = (uint32_t)(wp.f >> shift);
    uint64_t p2 = wp.f & (one - 1);
    int kappa = count_digits_small(p1);
    int len = 0;

    /* the exponent window [-60, -57] leaves p1 < 128: at most 3 digits,
     * so the divisors are constants */
    while (kappa > 0) {
        uint32_t d = kappa == 3 ? p1 / 100 : kappa == 2 ? p1 / 10 : p1;
        p1 -= d * (uint32_t)pow10_u64[kappa - 1];
        if (d != 0 || len != 0)
            buf[len++] = (char)('0' + d);
        kappa--;
        uint64_t rest = ((uint64_t)p1 << shift) + p2;
        if (rest <= delta) {
            *k += kappa;
            grisu_round(buf, len, delta, rest, pow10_u64[kappa] << shift,
                        wp_w);
            return len;
        }
    }
    for (;;) {
        p2 *= 10;
        delta *= 10;
        uint32_t d = (uint32_t)(p2 >> shift);
        if (d != 0 || len != 0)
            buf[len++] = (char)('0' + d);
        p2 &= one - 1;
        kappa--;
        if (p2 < delta) {
            *k += kappa;
            grisu_round(buf, len, delta, p2, one, wp_w * pow10_u64[-kappa]);
            return len;
        }
    }
}

/* Shortest (Grisu2) digits of finite, nonzero, positive bits: writes them
 * to buf (up to 18) and returns their count; value = digits * 10^*k. */
static int grisu2(uint64_t bits, char *buf, int *k)
{
    diyfp v = diyfp_of(bits);
    diyfp pl = diyfp_normalize((diyfp){(v.f << 1) + 1, v.e - 1});
    diyfp mi;
    if (v.f == DBL_HIDDEN && ((bits >> 52) & 0x7ff) > 1)
        mi = (diyfp){(v.f << 2) - 1, v.e - 2};
    else
        mi = (diyfp){(v.f << 1) - 1, v.e - 1};
    mi.f <<= mi.e - pl.e;
    mi.e = pl.e;
    diyfp w = diyfp_normalize(v);

    int q;
    int idx = cached_power_for(pl.e, &q);
    diyfp c = {pow10_f[idx], pow10_e[idx]};
    diyfp W = diyfp_mul(w, c);
    diyfp Wp = diyfp_mul(pl, c);
    diyfp Wm = diyfp_mul(mi, c);
    Wm.f++;
    Wp.f--;
    *k = -q;
    return grisu_digits(W, Wp, Wp.f - Wm.f, buf, k);
}

static char *write_exponent(char *p, int x)
{
    *p++ = 'e';
    if (x < 0) {
        *p++ = '-';
        x = -x;
    } else {
        *p++ = '+';
    }
    if (x >= 100) {
        *p++ = (char)('0' + x / 100);
        x %= 100;
        memcpy(p, digit_pairs + 2 * x, 2);
        return p + 2;
    }
    if (x >= 10) {
        memcpy(p, digit_pairs + 2 * x, 2);
        return p + 2;
    }
    *p++ = (char)('0' + x);
    return p;
}

/* Lay out digits d[0..len) * 10^k as a JSON number (see fmt.h). */
static size_t layout_json(const char *d, int len, int k, char *out)
{
    int kk = len + k; /* value = 0.d * 10^kk */
    char *p = out;
    if (kk >= len && kk <= 16) {
        memcpy(p, d, (size_t)len);
        p += len;
        memset(p, '0', (size_t)(kk - len));
        p += kk - len;
        memcpy(p, ".0", 2);
        return (size_t)(p + 2 - out);
    }
    if (kk > 0 && kk <= 16) {
        memcpy(p, d, (size_t)kk);
        p += kk;
        *p++ = '.';
        memcpy(p, d + kk, (size_t)(len - kk));
        return (size_t)(p + len - kk - out);
    }
    if (kk <= 0 && kk > -4) {
        memcpy(p, "0.", 2);
        p += 2;
        memset(p, '0', (size_t)-kk);
        p += -kk;
        memcpy(p, d, (size_t)len);
        return (size_t)(p + len - out);
    }
    *p++ = d[0];
    if (len > 1) {
        *p++ = '.';
        memcpy(p, d + 1, (size_t)(len - 1));
        p += len - 1;
    }
    p = write_exponent(p, kk - 1);
    return (size_t)(p - out);
}

size_t bg_fmt_double(double v, char *out)
{
    uint64_t bits = double_bits(v);
    size_t n = 0;
    if (((bits >> 52) & 0x7ff) == 0x7ff) {
        memcpy(out, "null", 4);
        return 4;
    }
    if (bits >> 63)
        out[n++] = '-';
    if ((bits << 1) == 0) {
        memcpy(out + n, "0.0", 3);
        return n + 3;
    }
    char digits[24];
    int k;
    int len = grisu2(bits & ~(UINT64_C(1) << 63), digits, &k);
    return n + layout_json(digits, len, k, out + n);
}

/* The digits of %.17g: D in [1e16, 1e17) with v ~= D * 10^(x - 16),
 * correctly rounded. Returns 0, or -1 when the product is too close to a
 * rounding tie (or out of the table) to decide. */
static int digits17(uint64_t bits, uint64_t *d_out, int *x_out)
{
    diyfp v = diyfp_of(bits);
    int b = v.e + 63 - __builtin_clzll(v.f); /* v in [2^b, 2^(b+1)) */
    int x = floor_log10_pow2(b);
    for (int tries = 0; tries < 3; tries++) {
        int q = 16 - x;
        if (q < POW10_QMIN || q > POW10_QMAX)
            return -1;
        int s = -(pow10_e[q - POW10_QMIN] + v.e);
        if (s <= 8 || s >= 120)
            return -1;
        bg_u128 p = (bg_u128)v.f * pow10_f[q - POW10_QMIN];
        bg_u128 ip = p >> s;
        if (ip >= pow10_u64[17]) {
            x++;
            continue;
        }
        if (ip < pow10_u64[16]) {
            x--;
            continue;
        }
        bg_u128 frac = p & (((bg_u128)1 << s) - 1);
        bg_u128 half = (bg_u128)1 << (s - 1);
        /* |pow10_f - 10^q * 2^-e| <= 1/2, so p is off by at most f/2 */
        bg_u128 margin = (v.f >> 1) + 1;
        bg_u128 dist = frac > half ? frac - half : half - frac;
        if (dist <= margin)
            return -1;
        uint64_t d = (uint64_t)ip + (frac > half);
        if (d == pow10_u64[17]) {
            d = pow10_u64[16];
            x++;
        }
        *d_out = d;
        *x_out = x;
        return 0;
    }
    return -1;
}

/* Write the 17 digits of d (in [1e16, 1e17)) into buf[0..17). */
static void write17(uint64_t d, char *buf)
{
    uint32_t hi = (uint32_t)(d / 100000000U); /* 9 digits */
    uint32_t lo = (uint32_t)(d % 100000000U); /* 8 digits */
    for (int i = 7; i > 0; i -= 2) {
        memcpy(buf + 9 + i - 1, digit_pairs + 2 * (lo % 100), 2);
        lo /= 100;
    }
    for (int i = 8; i > 0; i -= 2) {
        memcpy(buf + i - 1, digit_pairs + 2 * (hi % 100), 2);
        hi /= 100;
    }
    buf[0] = (char)('0' + hi);
}

static size_t fmt17_slow(double v, char *out)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    if (n < 0)
        n = 0;
    if (n > BG_FMT_DOUBLE_MAX)
        n = BG_FMT_DOUBLE_MAX;
    memcpy(out, tmp, (size_t)n);
    return (size_t)n;
}

size_t bg_fmt_double17(double v, char *out)
{
    uint64_t bits = double_bits(v);
    if (((bits >> 52) & 0x7ff) == 0x7ff)
        return fmt17_slow(v, out);
    size_t n = 0;
    if (bits >> 63)
        out[n++] = '-';
    if ((bits << 1) == 0) {
        out[n++] = '0';
        return n;
    }
    uint64_t d;
    int x;
    if (digits17(bits & ~(UINT64_C(1) << 63), &d, &x) != 0)
        return fmt17_slow(v, out);
    char dig[17];
    write17(d, dig);
    int len = 17;
    while (len > 1 && dig[len - 1] == '0')
        len--;
    char *p = out + n;
    if (x >= -4 && x < 17) {
        if (x >= 0) {
            int ip = x + 1;
            memcpy(p, dig, (size_t)ip);
            p += ip;
            if (len > ip) {
                *p++ = '.';
                memcpy(p, dig + ip, (size_t)(len - ip));
                p += len - ip;
            }
        } else {
            memcpy(p, "0.", 2);
            p += 2;
            memset(p, '0', (size_t)(-x - 1));
            p += -x - 1;
            memcpy(p, dig, (size_t)len);
            p += len;
        }
        return (size_t)(p - out);
    }
    *p++ = dig[0];
    if (len > 1) {
        *p++ = '.';
        memcpy(p, dig + 1, (size_t)(len - 1));
        p += len - 1;
    }
    *p++ = 'e';
    int ax = x;
    if (ax < 0) {
        *p++ = '-';
        ax = -ax;
    } else {
        *p++ = '+';
    }
    if (ax >= 100) {
        *p++ = (char)('0' + ax / 100);
        ax %= 100;
    }
    memcpy(p, digit_pairs + 2 * ax, 2);
    p += 2;
    return (size_t)(p - out);
}
