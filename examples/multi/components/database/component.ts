import { attribute, Component, File } from "batou";

/** A (pretend) database: writes its config and provides its address to the app. */
export class Database extends Component {
  port = attribute(Number, 5432);
  name = attribute(String, "app");

  override configure() {
    this.add(new File("db.conf", { content: "port = {{ component.port }}\ndatabase = {{ component.name }}\n" }));
    this.provide("database", { host: this.host.fqdn, port: this.port, name: this.name });
  }
}
