-- Image folders, files and transforms against torchvision's ImageFolder on the same files
-- (the .npy tensors were recorded by scripts/reference/images.py with Pillow 13 and torchvision 0.28).
local T = require "helper"
local here = package.searchpath("helper", package.path):gsub("helper%.lua$", "")
local fx = here .. "fixtures/"

local function maxdiff(a, b) return (a - b):abs():max() end

-- classes are the sorted subfolders; files at any depth, folders then files sorted
local ds, skipped = data.images(fx .. "images", {transform = {resize = 16, crop = 12}})
T.eq(#ds, 8, "8 images"); T.eq(#skipped, 0, "nothing skipped")
T.eq(table.concat(ds.classes, ","), "cat,dog", "class names")
T.eq(table.concat(ds.shape, ","), "3,12,12", "sample shape")
local x, y = ds:tensors()
T.close(y, {1, 1, 1, 2, 2, 2, 2, 2}, "labels")
-- JPEG (RGB, gray), PNG (RGBA, palette with transparency, 16-bit RGB, gray, gray+alpha, 1-bit)
for _, name in ipairs{"small", "large", "exact"} do
  local tf = ({small = {resize = 16, crop = 12}, large = {resize = 48, crop = {40, 43}},
              exact = {resize = {17, 30}, mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225}}})[name]
  local got = data.images(fx .. "images", {transform = tf}):tensors()
  local want = tensor.load(fx .. "images_" .. name .. ".npy")
  T.shape(got, want:shape(), name .. " shape")
  -- PIL's own arithmetic; Pillow 13 sometimes runs the vertical pass first, which moves a value
  -- by one step of 1/255 (of 1/255/std after normalising)
  local step = (name == "exact" and 1 / 0.224 or 1) / 255
  T.eq(maxdiff(got, want) <= step + 1e-6, true, name .. ": largest difference " .. maxdiff(got, want))
end

-- the default is ImageNet's evaluation transform (resize 256, crop 224)
T.eq(table.concat(data.images(fx .. "images").shape, ","), "3,224,224", "ImageNet's transform by default")
T.raises(function() return data.images(fx .. "images", {transform = {resize = 10, crop = 12}}):tensors() end,
  "smaller than the 12x12 crop", "crop larger than the image")
-- classes: a subset of folders in a given order
local dogs = data.images(fx .. "images", {transform = {resize = 16, crop = 12}, classes = {"dog"}})
T.eq(#dogs, 5, "one class"); T.eq(dogs.classes[1], "dog")

-- one image; 16-bit grayscale keeps its high byte (PIL would clip it to 0..255)
local g = data.image(fx .. "gray16.png")
T.shape(g, {3, 12, 10})
T.close(g:select(1, 2), tensor.load(fx .. "gray16_high_byte.npy"), "16-bit gray", 0, 1e-7)
local one = data.image(fx .. "images/cat/a_rgb.jpg", {transform = {resize = 16, crop = 12}})
T.close(one, x:select(1, 1), "data.image equals the folder's first sample", 0, 1e-7)
local l = data.image(fx .. "images/cat/sub/c_rgba.png", {transform = {channels = 1}})
T.shape(l, {1, 24, 33})

-- save and read back: PNG round trip of [0, 1] values at 8 bits
local path = os.tmpname() .. ".png"
local img = tensor.rand({3, 5, 7}, {seed = 2})
data.save_image(img, path)
T.close(data.image(path), img, "save_image round trip", 0, 0.5 / 255 + 1e-6)
data.save_image(img:select(1, 1), path)
T.shape(data.image(path, {transform = {channels = 1}}), {1, 5, 7})
os.remove(path)

-- damaged files: an error naming the file, or skipped and listed
T.raises(function() return data.images(fx .. "bad", {transform = {resize = 8, crop = 8}}):tensors() end, "text.png': not a JPEG or PNG file", "a damaged file")
T.raises(function() return data.image(fx .. "bad/cls/truncated.png") end, "truncated", "a truncated PNG")
local err = T.raises(function() return data.image(fx .. "bad/cls/text.png") end, "not a JPEG or PNG file")
T.eq(err:find("text.png", 1, true) ~= nil, true, "the error names the file")
T.raises(function() return data.image(fx .. "bad/cls/truncated.jpg") end, "truncated.jpg", "a truncated JPEG")
local none = T.raises(function() return data.images(fx .. "bad", {skip_bad = true}) end, "holds no JPEG or PNG images")
local mixed, left = data.images(fx .. "images", {transform = {resize = 16, crop = 12}, skip_bad = true})
T.eq(#mixed, 8, "good files kept"); T.eq(#left, 0)

-- misuse
T.raises(function() return data.images(fx .. "nowhere") end, "is not a folder")
T.raises(function() return data.images(fx .. "images", {transform = "sepia"}) end, "unknown transform 'sepia'")
T.raises(function() return data.images(fx .. "images", {transform = {crop = 0}}) end, "crop must be positive")
T.raises(function() return data.images(fx .. "images", {transform = {mean = {0.5}}}) end, "mean and std need 3 values")
T.raises(function() return data.images(fx .. "images", {classes = {"bird"}}) end, "no folder for class 'bird'")
T.raises(function() return data.save_image(tensor.zeros{2, 4, 4}, "/tmp/x.png") end, "with 1, 3 or 4 channels")
T.eq(#data.imagenet_classes(), 1000, "ImageNet's class names"); T.eq(data.imagenet_classes()[1], "tench")
