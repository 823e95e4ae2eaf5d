package publish

import "context"

// Publisher publishes images read from a layout. Registry is hic's; a build
// with --push is wrapped by one (compiler/catalogbuild), so pushing is not
// code of the build command.
type Publisher interface {
	// Publish publishes images, calling progress (if not nil) once after
	// each image, never concurrently.
	Publish(ctx context.Context, images []Image, progress func(Event)) error
	// String names the destination, for messages ("127.0.0.1:5000/hic").
	String() string
}

// Registry publishes to a registry destination with PublishImages.
type Registry struct {
	Dest Destination
	// Options are PublishImages's; Progress is set by each Publish call.
	Options Options
}

var _ Publisher = Registry{}

// Publish pushes images to r.Dest (see PublishImages).
func (r Registry) Publish(ctx context.Context, images []Image, progress func(Event)) error {
	o := r.Options
	o.Progress = progress
	return PublishImages(ctx, images, r.Dest, o)
}

func (r Registry) String() string { return r.Dest.String() }
