"""The word list friendly keys are generated from: the SGraph Send web UI's own 320 words.

Copied from upstream's ``upload-crypto.js`` (``UploadCrypto.WORDS``, browser UI v0.3.0; the same list is in
``shared/specs/upstream-friendly-words.txt``), so a token we generate is one the web UI could have
generated. Readers accept any lowercase words (``[a-z]+``), so this list only matters for *making* tokens.

* upstream form ``word-word-NNNN``: 320 x 320 x 10,000 = 1,024,000,000 tokens (about 2^30);
* strong form ``word-word-word-word-word-NNNN`` (ours, see ``crypto.generate_friendly_token``):
  320^5 x 10,000 = 3.4 x 10^16 tokens (about 2^55).
"""

WORDS: tuple[str, ...] = tuple(
    """
    acorn agate alder amber anchor anvil apple arrow aspen atlas badge baker barn basin beach berry
    birch blade blank blaze bloom board bold bonus brave bread brick brook brush cabin camel candy cargo
    cedar chain chalk charm chess chief chill cider citrus civic claim clay cliff climb clock cloud
    clover coach coast cobalt cocoa coral craft crane crash creek crest crisp cross crown cubic curve
    dance dawn delta depot diary dodge dove draft dream drift drum dune eagle earth echo elder elite
    ember epoch equal fable faith falcon feast fern ferry fiber field flame flash flint float flora
    flute focus forge found frost fruit fudge gaze giant glade glass gleam globe glow gold grace grain
    grand grape green grove guard guide guild halo harbor haven hawk hazel heart hedge herb heron honey
    horizon hound humor index iris ivory jasper jewel jolly judge jungle karma kite knoll lake latch
    lemon level light lily linen lion lodge logic lotus lucky lunar lyre magic mango manor maple marsh
    match mayor medal melon mercy mirth model moose mortar moss mount music myth nectar noble north
    novel nutmeg oak oasis ocean olive onset onyx opal orange orbit otter oxide palm panel patch peace
    pearl pecan pepper petal pilot pixel plant plaza plume plush polar pouch prism proud pulse quail
    queen quest quick radar rain rapid raven reach realm reed reef relay ribbon ridge river robin robot
    royal ruby rumor sage sandy satin scale scene scout scroll shade shark shell shift shine silk slate
    smile solar solid sonic spark spell spice spine spoke spruce staff stamp star steam steel stone
    storm sugar sunny surge sweep swift table tango terra thistle thorn tiger toast token topaz tower
    trace trail trend trout tulip twist ultra umber union unity urban valid valve vault velvet verse
    vigor vine vinyl vivid voice walnut water wave wheat whole wick willow wind wolf wonder world wren
    yacht yarn yarrow yield zenith zinc zone
    """.split()
)

assert len(WORDS) == len(set(WORDS)) == 320
assert all(word.isascii() and word.isalpha() and word.islower() for word in WORDS)
