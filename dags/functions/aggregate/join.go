package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
)

// join pairs the verdicts for each region (same index, same id) into objects.
func join(src source, shapes []shapeVerdict, textures []textureVerdict) []object {
	objects := make([]object, len(shapes))
	for i, s := range shapes {
		t := textures[i]
		objects[i] = object{
			ID:         s.ID,
			X:          toFullResolution(s.Centroid[0], src.Scale),
			Y:          toFullResolution(s.Centroid[1], src.Scale),
			Shape:      s.Shape,
			Texture:    t.Texture,
			Label:      t.Texture + " " + s.Shape,
			Confidence: math.Round(s.Confidence*t.Confidence*1e4) / 1e4,
		}
	}
	return objects
}

// toFullResolution maps a downsampled coordinate to the full-resolution
// pixel at the centre of the block it stands for.
func toFullResolution(c float64, scale int) int {
	return int(math.Round(c*float64(scale) + float64(scale-1)/2))
}

// countObjects tallies the objects.
func countObjects(objects []object) counts {
	c := counts{Total: len(objects), Shape: map[string]int{}, Texture: map[string]int{}, Label: map[string]int{}}
	for _, o := range objects {
		c.Shape[o.Shape]++
		c.Texture[o.Texture]++
		c.Label[o.Label]++
	}
	return c
}

// score matches each drawn object to the first detected object lying within
// its radius and counts the labels that agree.
func score(objects []object, truth []truthShape) accuracy {
	a := accuracy{Truth: len(truth)}
	used := make([]bool, len(objects))
	both := 0
	for _, t := range truth {
		for i, o := range objects {
			dx, dy := o.X-t.X, o.Y-t.Y
			if used[i] || dx*dx+dy*dy > t.Radius*t.Radius {
				continue
			}
			used[i] = true
			a.Matched++
			shapeOK, textureOK := o.Shape == t.Shape, o.Texture == t.Texture
			if shapeOK {
				a.ShapeCorrect++
			}
			if textureOK {
				a.TextureCorrect++
			}
			if shapeOK && textureOK {
				both++
			}
			break
		}
	}
	if a.Truth > 0 {
		a.Score = math.Round(float64(both)/float64(a.Truth)*1e4) / 1e4
	}
	return a
}

// checksumOf is the SHA-256 of the objects' JSON encoding.
func checksumOf(objects []object) (string, error) {
	b, err := json.Marshal(objects)
	if err != nil {
		return "", fmt.Errorf("encode objects for checksum: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
