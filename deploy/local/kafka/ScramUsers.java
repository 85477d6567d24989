// Gives each principal its SCRAM-SHA-512 credential, in one JVM (vafactl runs it after the broker is up):
//   java -cp "<kafka jars>/*" ScramUsers.java <admin client properties file> < "principal password" lines
// Setting a password again is harmless (a new salt, the same password).
import java.io.BufferedReader;
import java.io.FileReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class ScramUsers {
    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        try (FileReader reader = new FileReader(args[0])) {
            config.load(reader);
        }
        List<UserScramCredentialAlteration> upserts = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] parts = line.trim().split(" ", 2);
                if (parts.length == 2) {
                    ScramCredentialInfo info = new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192);
                    upserts.add(new UserScramCredentialUpsertion(parts[0], info, parts[1]));
                }
            }
        }
        try (Admin admin = Admin.create(config)) {
            admin.alterUserScramCredentials(upserts).all().get();
        }
        System.out.println("SCRAM credentials set for " + upserts.size() + " principals");
    }
}
