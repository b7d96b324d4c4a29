import { attribute, Component, File, Symlink } from "batou";

/** Hello world: a rendered file, a file with a mode, and a symlink, all in work/hello. */
export class Hello extends Component {
  greeting = attribute(String, "Hello world");

  override configure() {
    this.add(new File("hello", { content: "{{ component.greeting }}\n" }));
    this.add(new File("hello.conf", { source: "hello.conf.j2", mode: 0o600 }));
    this.add(new Symlink("current", { source: "hello" }));
  }
}
