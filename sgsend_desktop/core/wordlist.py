"""Our own word list for friendly keys (``word-word-NNNN``).

Short, common, lowercase English nouns that are easy to say over the phone and hard to mishear.
270 words x 270 words x 10,000 numbers = 729 million tokens; readers accept any ``[a-z]+`` words.
"""

WORDS: tuple[str, ...] = tuple(
    """
    acorn anchor apple apron arrow atlas autumn badge bagel baker bamboo banjo barley basket beacon
    beaver berry bison blossom boat bonnet border bottle bramble bread breeze brick bridge brook
    bucket buffalo bugle butter button cabin cactus camel candle canoe canyon carbon carpet carrot
    castle cedar cello chalk cherry chess cider cinema circus citrus clover cobalt coconut comet
    compass copper coral cotton cradle crane crayon cricket crystal cup daisy dawn delta desert diamond
    dolphin donkey dragon drum eagle easel echo elbow ember engine falcon feather fennel fern ferry
    fiddle fig flame flute forest fossil fountain fox galaxy garden garlic gecko ginger glacier globe
    goose granite grape gravel guitar hammer harbor harp hazel heron hill honey horizon hornet island
    ivory jacket jade jaguar jasmine jelly jigsaw juniper kayak kettle kiwi koala ladder lagoon lantern
    lark lemon lentil lily lime linen lion lizard llama lobster locket lotus magnet mango maple marble
    meadow melon meteor mint mirror mitten monkey moose mosaic moss mountain muffin mural nectar needle
    nest nickel noodle nutmeg oak oasis ocean olive onion orbit orchard orchid otter owl oyster paddle
    panda panther paper parrot peach peanut pebble pelican pepper piano pickle pigeon pillow pine planet
    plum pocket pony poppy prism puffin pumpkin quartz quill rabbit radish rain raven reef ribbon river
    robin rocket rose ruby saddle saffron sage salmon sand satin sax scarf shell silver sketch sled
    slate sloth snow sparrow spice spinach sponge spruce squash squid star stone straw sugar summit
    sunset swan tablet tango teapot thistle thunder tiger timber toast tomato topaz torch tulip tundra
    turtle umbrella valley velvet violet violin walnut walrus wave whale willow window winter wolf
    """.split()
)

assert len(set(WORDS)) == len(WORDS) >= 256
